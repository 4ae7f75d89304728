# vhp-bench: regenerate the tables and figures of "Learning Hierarchical Priors in VAEs" (NeurIPS 2019).
# Targets: pendulum (Table 1 + figures), table1, table2, figures, all (default: everything).
# Scale: --configfile workflow/config/{quick,smoke}.yaml.
from snakemake.utils import min_version

min_version("9.0")


configfile: "workflow/config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        get_final_output(),


rule pendulum:
    """Table 1 and every figure, on the generated pendulum: the README's main job (make run)."""
    input:
        pendulum_outputs(),
