"""Command line for single runs outside Snakemake:

    python -m vhp_core prepare  --dataset pendulum [--config FILE ...]
    python -m vhp_core train    --dataset pendulum --method vhp_rewo --seed 1 --run-dir DIR [--config FILE ...]
    python -m vhp_core evaluate --run-dir DIR
"""
import argparse
import json
import logging

from vhp_core import datasets
from vhp_core.io import write_json
from vhp_core.runs.config import data_root, dataset_kind, load_config, resolve_run
from vhp_core.runs.evaluate import evaluate_run
from vhp_core.runs.train import train_run

DEFAULT_CONFIG = "workflow/config/config.yaml"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vhp_core", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["prepare", "train", "evaluate"])
    parser.add_argument("--config", action="append",
                        help=f"config files, later ones override (default {DEFAULT_CONFIG})")
    parser.add_argument("--dataset")
    parser.add_argument("--method")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--run-dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.command == "evaluate":
        metrics = evaluate_run(f"{args.run_dir}/model.pt")
        write_json(f"{args.run_dir}/metrics.json", metrics)
        print(json.dumps(metrics, indent=2))
        return
    config = load_config(*(args.config or [DEFAULT_CONFIG]))
    if args.command == "prepare":
        if args.dataset not in config["datasets"]:
            parser.error(f"--dataset {args.dataset!r} is not defined under `datasets`; defined: "
                         f"{sorted(config['datasets'])}")
        datasets.prepare(dataset_kind(config, args.dataset), data_root(config, args.dataset),
                         config["datasets"][args.dataset]["args"])
    else:
        print(json.dumps(train_run(resolve_run(config, args.dataset, args.method, args.seed), args.run_dir)))


if __name__ == "__main__":
    main()
