# The only Python logic of the workflow: validate the config, build the run grid, input functions.
from pathlib import Path
from typing import Any

from snakemake.iocontainers import Wildcards

from vhp_core.runs.config import (
    complete,
    dataset_kind,
    manifest_path,
    plan_packs,
    resolve_run,
    Run,
    run_digest,
    run_identity,
    run_grid,
    sensitivity_levels,
    validate,
)
from vhp_core.datasets import DATASETS
from vhp_core.runs.cost import nll_minutes, train_minutes
from vhp_core.runs.evaluate import METRICS_VERSION
from vhp_core.report.results_doc import page_figure, page_name, scale_notes

complete(config)
validate(config)

DATA = config["data"]["root"]
RUN = "results/{dataset}/{method}/seed{seed}"
RUNS = "results/runs"


def run_folder(dataset: str, method: str, seed: int | str) -> str:
    """Where a run trains: a folder keyed by the digest of its resolved spec. A changed config trains in a
    new folder; the finished run stays published under RUN until its replacement is done.
    """
    spec = resolve_run(config, dataset, method, int(seed))
    return f"{RUNS}/{dataset}/{method}/seed{seed}-{run_digest(spec)}"


wildcard_constraints:
    dataset="|".join(config["datasets"]),
    method="|".join(config["methods"]),
    seed=r"\d+",


def run_files(
    name: str, datasets: list[str], methods: list[str], seeds: list[int] | None = None
) -> list[str]:
    """Paths of one per-run file over a grid of datasets x methods x seeds."""
    return expand(
        f"{RUN}/{name}",
        dataset=datasets,
        method=methods,
        seed=config["seeds"] if seeds is None else seeds,
    )


def table_inputs(table: str, name: str = "metrics.json") -> list[str]:
    spec = config["tables"][table]
    return run_files(name, spec["datasets"], spec["methods"], spec.get("seeds"))


def sensitivity_inputs() -> list[str]:
    """metrics.json of every setting and seed of the sensitivity study, each run once."""
    seeds = config["sensitivity"]["seeds"]
    runs = {(l["dataset"], l["method"]) for l in sensitivity_levels(config)}
    return [
        f"results/{d}/{m}/seed{s}/metrics.json" for d, m in sorted(runs) for s in seeds
    ]


def method_labels(methods: list[str]) -> dict[str, str]:
    return {m: config["methods"][m]["label"] for m in methods}


def figure_runs(figure: str, name: str) -> list[str]:
    """One per-run file for each method of a figure drawn from one (dataset, seed)."""
    spec = config["figures"][figure]
    return run_files(name, [spec["dataset"]], spec["methods"], [spec["seed"]])


def smoothness_seeds() -> list[int]:
    return config["figures"]["smoothness"].get("seeds", config["seeds"])


def smoothness_inputs() -> list[str]:
    """smoothness.npz of every (method, seed) of Fig. 7, method-major (the script splits them so)."""
    spec = config["figures"]["smoothness"]
    return [
        path
        for method in spec["methods"]
        for path in run_files(
            "smoothness.npz", [spec["dataset"]], [method], smoothness_seeds()
        )
    ]


def interpolation_settings(wildcards: Wildcards) -> dict[str, Any]:
    return config["datasets"][wildcards.dataset]["interpolation"]


RUN_FILES = ["model.pt", "train_log.csv", "epochs.csv", "snapshots.npz"]


TABLE2_SEEDS = config["tables"]["table2"].get("seeds", config["seeds"])
CURVE_DATASETS = [
    d
    for d in config["tables"]["table2"]["datasets"]
    if "curves" in config["datasets"][d]
]


def run_files_of(dataset: str) -> list[str]:
    """The files a training job writes per run: a dataset with learning curves adds curve.csv."""
    return RUN_FILES + (
        ["curve.csv"] if "curves" in config["datasets"][dataset] else []
    )


PACKS = plan_packs(config, run_grid(config))


def pack_name(pack: list[Run]) -> str:
    """The job's name says what it trains (one run, or pack number n of a dataset)."""
    if len(pack) == 1:
        dataset, method, seed = pack[0]
        return f"train_{dataset}__{method}__seed{seed}"
    return f"train_{pack[0][0]}__pack{PACKS.index(pack)}"


def dataset_shape(dataset: str) -> tuple[int, int, int]:
    """(training items, test items, item size) of a dataset, from its config alone."""
    return DATASETS[dataset_kind(config, dataset)].shape(
        config["datasets"][dataset]["args"]
    )


def train_runtime(pack: list[Run]) -> int:
    """Minutes a cluster should allow a training job: vhp_core.runs.cost.train_minutes (steps x FLOPs at an
    assumed 60 GFLOP/s per CPU thread, plus 4 ms a step, x2, plus 10 min), at most max_job_minutes
    (a longer job checkpoints on SIGTERM and resumes when resubmitted)."""
    n_train, _, data_dim = dataset_shape(pack[0][0])
    specs = [resolve_run(config, *run) for run in pack]
    return min(config["max_job_minutes"], train_minutes(specs, data_dim, n_train))


def nll_runtime(wildcards: Wildcards) -> int:
    """Minutes for one run's NLL: vhp_core.runs.cost.nll_minutes, at most max_job_minutes."""
    _, n_test, data_dim = dataset_shape(wildcards.dataset)
    nll = config["datasets"][wildcards.dataset]["nll"]
    spec = resolve_run(config, wildcards.dataset, wildcards.method, int(wildcards.seed))
    minutes = nll_minutes(
        spec, data_dim, nll["samples"], min(n_test, nll["n_items"] or n_test)
    )
    return min(config["max_job_minutes"], minutes)


def nll_params(wildcards: Wildcards) -> dict[str, Any]:
    return config["datasets"][wildcards.dataset]["nll"]


def figures(*names: str) -> list[str]:
    return expand("results/figures/{name}.{ext}", name=names, ext=["png", "pdf"])


PENDULUM_FIGURES = figures(
    "fig1_beta_landscape",
    "fig2_training_dynamics",
    "fig3_pendulum_graphs",
    "fig4_pendulum_frames",
)
INTERPOLATION_FIGURES = figures(
    "fig3_pendulum_graphs",
    "fig4_pendulum_frames",
    "fig5_mocap_graphs",
    "fig6_mocap_movements",
)
SMOOTHNESS_FIGURES = figures("fig7_smoothness", "fig7_tradeoff")
SMOOTHNESS_OUTPUTS = [
    *SMOOTHNESS_FIGURES,
    "results/tables/smoothness.csv",
    "results/tables/smoothness.md",
]


def pendulum_outputs() -> list[str]:
    """What `make run` builds: Table 1 and the pendulum's figures, all on the generated pendulum."""
    return [
        "results/tables/table1.csv",
        "results/tables/table1.md",
        *figures("table1_seeds"),
        "results/tables/pendulum_interpolation.csv",
        *PENDULUM_FIGURES,
    ]


def figure_outputs() -> list[str]:
    return list(
        dict.fromkeys([*PENDULUM_FIGURES, *INTERPOLATION_FIGURES, *SMOOTHNESS_FIGURES])
    )


def get_final_output() -> list[str]:
    return [
        *pendulum_outputs(),
        *INTERPOLATION_FIGURES,
        *SMOOTHNESS_OUTPUTS,
        "results/tables/table2.csv",
        "results/tables/table2.md",
        "results/tables/active_units.md",
        *(figures("table2_curves") if CURVE_DATASETS else []),
    ]


def doc_part(
    csv: str, md: str | None, figures: list[str], curves: str | None = None
) -> dict[str, Any]:
    return {
        "csv": str(csv),
        "md": md and str(md),
        "figures": [str(f) for f in figures],
        "curves": curves and str(curves),
    }


def results_doc_parts() -> dict[str, dict[str, Any]]:
    """Per section of docs/results (config results_doc/sections): the CSV its verdicts read, the Markdown
    table it shows (if any), the figures it links and Table 2's learning-curve summary (if any), each an
    output of the rule that makes it (so called only once every rule file is included).
    """
    parts = {}
    for name in config["results_doc"]["sections"]:
        if name == "table1":
            o = rules.table1.output
            parts[name] = doc_part(o.csv, o.md, [o.png])
        elif name == "sensitivity":
            o = rules.sensitivity.output
            parts[name] = doc_part(o.csv, o.md, [o.png])
        elif name == "pendulum_interpolation":
            o = rules.fig3_fig4_pendulum_interpolation.output
            parts[name] = doc_part(o.csv, None, [o.fig3, o.fig4])
        elif name == "smoothness":
            o, mocap = (
                rules.fig7_smoothness.output,
                rules.fig5_fig6_mocap_interpolation.output,
            )
            figures = [mocap.fig5, mocap.fig6, o.png, rules.fig7_tradeoff.output.png]
            parts[name] = doc_part(o.seeds_csv, o.md, figures)
        else:
            o = rules.table2.output
            if CURVE_DATASETS:
                c = rules.table2_curves.output
                parts[name] = doc_part(o.csv, o.md, [o.png, c.png], c.csv)
            else:
                parts[name] = doc_part(o.csv, o.md, [o.png])
    return parts


def results_doc_inputs() -> list[str]:
    return [
        p
        for part in results_doc_parts().values()
        for p in [part["csv"], part["md"], part["curves"], *part["figures"]]
        if p
    ]


def config_files() -> list[str]:
    """The config files' names in the order they apply (the Snakefile's default, then the command line's), each
    once (`make run` names the default again), then the keys that --config overrides."""
    default = Path(workflow.basedir, "workflow", "config", "config.yaml").resolve()
    unique = dict.fromkeys(Path(f).resolve() for f in workflow.configfiles)
    files = sorted(unique, key=lambda f: f != default)
    overrides = sorted(workflow.config_settings.config)
    return [Path(f).name for f in files] + (
        [f"--config {', '.join(overrides)}"] if overrides else []
    )
