# vhp-bench: regenerate the tables and figures of "Learning Hierarchical Priors in VAEs" (NeurIPS 2019).
# Targets: pendulum (Table 1 + the pendulum's figures), table1, table2, interpolations (Figs. 3-6),
# smoothness (Fig. 7), figures (Figs. 1-7), all (default: everything); results_doc (docs/results.md).
# Scale: --configfile workflow/config/{quick,smoke}.yaml.
from snakemake.utils import min_version

min_version("9.0")


configfile: f"{workflow.basedir}/workflow/config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/interpolation.smk"
include: "workflow/rules/results_doc.smk"


rule all:
    default_target: True
    input:
        get_final_output(),


rule pendulum:
    """Table 1 and every figure, on the generated pendulum: the README's main job (make run)."""
    input:
        pendulum_outputs(),


rule interpolations:
    """Graph-based interpolations: Figs. 3-4 (pendulum) and 5-6 (CMU mocap)."""
    input:
        INTERPOLATION_FIGURES,


rule smoothness:
    """Fig. 7 and its table: the smoothness factor of mocap interpolations per joint and method."""
    input:
        SMOOTHNESS_OUTPUTS,
