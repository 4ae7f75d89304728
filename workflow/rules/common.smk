# The only Python logic of the workflow: validate the config, build the run grid, input functions.
from pathlib import Path

from vhp_core.config import resolve_run, validate
from vhp_core.datasets import DATASETS

validate(config)

DATA = config["data"]["root"]
RUN = "results/{dataset}/{method}/seed{seed}"


wildcard_constraints:
    dataset="|".join(config["datasets"]),
    method="|".join(config["methods"]),
    seed=r"\d+",


def run_files(name, datasets, methods, seeds=None):
    """Paths of one per-run file over a grid of datasets x methods x seeds."""
    return expand(
        f"{RUN}/{name}",
        dataset=datasets,
        method=methods,
        seed=config["seeds"] if seeds is None else seeds,
    )


def table_inputs(table, name="metrics.json"):
    spec = config["tables"][table]
    return run_files(name, spec["datasets"], spec["methods"], spec.get("seeds"))


def method_labels(methods):
    return {m: config["methods"][m]["label"] for m in methods}


def figure_runs(figure, name):
    """One per-run file for each method of a figure drawn from one (dataset, seed)."""
    spec = config["figures"][figure]
    return run_files(name, [spec["dataset"]], spec["methods"], [spec["seed"]])


def smoothness_seeds():
    return config["figures"]["smoothness"].get("seeds", config["seeds"])


def smoothness_inputs():
    """smoothness.npz of every (method, seed) of Fig. 7, method-major (the script splits them so)."""
    spec = config["figures"]["smoothness"]
    return [
        path
        for method in spec["methods"]
        for path in run_files(
            "smoothness.npz", [spec["dataset"]], [method], smoothness_seeds()
        )
    ]


def interpolation_settings(wildcards):
    return config["datasets"][wildcards.dataset]["interpolation"]


def train_runtime(wildcards):
    """Minutes a cluster should allow: about 1.5 s per epoch per 10k items on one CPU core, x4 margin."""
    spec = resolve_run(config, wildcards.dataset, wildcards.method, wildcards.seed)
    return max(10, int(spec["training"]["epochs"] * 0.1))


def nll_params(wildcards):
    return config["datasets"][wildcards.dataset]["nll"]


def figures(*names):
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
SMOOTHNESS_OUTPUTS = [
    *figures("fig7_smoothness"),
    "results/tables/smoothness.csv",
    "results/tables/smoothness.md",
]


def pendulum_outputs():
    """What `make run` builds: Table 1 and the pendulum's figures, all on the generated pendulum."""
    return [
        "results/tables/table1.csv",
        "results/tables/table1.md",
        "results/tables/pendulum_interpolation.csv",
        *PENDULUM_FIGURES,
    ]


def figure_outputs():
    return list(
        dict.fromkeys(
            [*PENDULUM_FIGURES, *INTERPOLATION_FIGURES, *figures("fig7_smoothness")]
        )
    )


def get_final_output():
    return [
        *pendulum_outputs(),
        *INTERPOLATION_FIGURES,
        *SMOOTHNESS_OUTPUTS,
        "results/tables/table2.csv",
        "results/tables/table2.md",
        "results/tables/active_units.md",
    ]
