"""Command line for single runs outside Snakemake (`vhp-bench`, or `python -m vhp_core`):

    vhp-bench prepare  --dataset pendulum [--config FILE ...]
    vhp-bench train    --dataset pendulum --method vhp_rewo --seed 1 --run-dir DIR [--config FILE ...]
    vhp-bench evaluate --run-dir DIR
    vhp-bench nll      --run-dir DIR [--samples S] [--n-items N] [--config FILE ...]
    vhp-bench configs

Without --config, the config that ships with the package (config.yaml) is used; a name without a
folder, such as `smoke.yaml`, picks a shipped config too (`vhp-bench configs` lists them).
"""
import argparse
import json
import logging
from importlib.resources import files
from pathlib import Path
from typing import Any

from vhp_core import datasets
from vhp_core.io import require_writable, write_json
from vhp_core.runs import checkpoints
from vhp_core.runs.config import data_root, dataset_kind, load_config, resolve_run
from vhp_core.runs.evaluate import evaluate_nll, evaluate_run
from vhp_core.runs.train import train_run

SHIPPED = files("vhp_core.configs")


def config_paths(names: list[str] | None) -> list[Path | Any]:
    """The config files to merge: the shipped config.yaml first, then each named file; a bare name that is
    not a file in the working directory is a shipped config."""
    paths: list[Path | Any] = [SHIPPED / "config.yaml"]
    for name in names or []:
        path = Path(name)
        if not path.exists() and path.name == name and (SHIPPED / name).is_file():
            paths.append(SHIPPED / name)
        else:
            paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vhp-bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["prepare", "train", "evaluate", "nll", "configs"])
    parser.add_argument("--config", action="append",
                        help="config files merged over the shipped config.yaml, later ones override")
    parser.add_argument("--dataset")
    parser.add_argument("--method")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--run-dir")
    parser.add_argument("--samples", type=int, help="nll: importance samples per item (default: the config's)")
    parser.add_argument("--n-items", type=int, help="nll: test items (default: the config's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.command == "configs":
        print("\n".join(sorted(p.name for p in SHIPPED.iterdir() if p.name.endswith(".yaml"))))
        return
    if args.command in ("evaluate", "nll") and not args.run_dir:
        parser.error(f"{args.command} needs --run-dir, the folder of a trained run's model.pt")
    if args.command in ("evaluate", "nll"):
        require_writable(args.run_dir, f"vhp-bench {args.command}")
    if args.command == "evaluate":
        snapshots = Path(args.run_dir) / "snapshots.npz"
        metrics = evaluate_run(f"{args.run_dir}/model.pt", snapshots if snapshots.exists() else None)
        write_json(f"{args.run_dir}/metrics.json", metrics)
        print(json.dumps(metrics, indent=2))
        return
    config = load_config(*config_paths(args.config))
    if args.command == "nll":
        model = f"{args.run_dir}/model.pt"
        saved = checkpoints.load(model, "cpu", redo=f"delete {args.run_dir} and train that run again")
        dataset = saved["spec"]["dataset"]
        nll = {"n_items": None, **config["datasets"][dataset].get("nll", {}),
               **({"samples": args.samples} if args.samples else {}),
               **({"n_items": args.n_items} if args.n_items else {})}
        if "samples" not in nll:
            parser.error(f"the config has no datasets/{dataset}/nll settings: give --samples (and --n-items)")
        result = evaluate_nll(model, **nll)
        write_json(f"{args.run_dir}/nll.json", result)
        print(json.dumps(result, indent=2))
        return
    if args.dataset not in config["datasets"]:
        parser.error(f"--dataset {args.dataset!r} is not defined under `datasets`; defined: "
                     f"{sorted(config['datasets'])}")
    if args.command == "prepare":
        datasets.prepare(dataset_kind(config, args.dataset), data_root(config, args.dataset),
                         config["datasets"][args.dataset]["args"])
    else:
        if args.method not in config["methods"] or not args.run_dir:
            parser.error(f"train needs --method (defined: {sorted(config['methods'])}) and --run-dir")
        print(json.dumps(train_run(resolve_run(config, args.dataset, args.method, args.seed), args.run_dir)))
