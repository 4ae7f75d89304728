# vhp-bench: regenerate the tables and figures of "Learning Hierarchical Priors in VAEs" (NeurIPS 2019).
# Targets: table1, figures, all (default). Scale: --configfile workflow/config/{quick,smoke}.yaml.
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
