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


def dynamics_inputs(kind):
    spec = config["figures"]["training_dynamics"]
    return run_files(kind, [spec["dataset"]], spec["methods"], [spec["seed"]])


def train_runtime(wildcards):
    """Minutes a cluster should allow: about 1.5 s per epoch per 10k items on one CPU core, x4 margin."""
    spec = resolve_run(config, wildcards.dataset, wildcards.method, wildcards.seed)
    return max(10, int(spec["training"]["epochs"] * 0.1))


def nll_params(wildcards):
    return config["datasets"][wildcards.dataset]["nll"]


def pendulum_outputs():
    """What `make run` builds: Table 1 and the figures, all on the generated pendulum."""
    return ["results/tables/table1.csv", "results/tables/table1.md", *figure_outputs()]


def get_final_output():
    return [
        *pendulum_outputs(),
        "results/tables/table2.csv",
        "results/tables/table2.md",
        "results/tables/active_units.md",
    ]


def figure_outputs():
    return expand(
        "results/figures/{name}.{ext}",
        name=["fig1_beta_landscape", "fig2_training_dynamics"],
        ext=["png", "pdf"],
    )
