rule table1:
    """Table 1: OLS angle error on the pendulum, mean and std over seeds, beside the paper."""
    input:
        table_inputs("table1"),
    output:
        csv=report(
            "results/tables/table1.csv",
            caption="../report/table1.rst",
            category="Table 1",
        ),
        md="results/tables/table1.md",
    params:
        labels=method_labels(config["tables"]["table1"]["methods"]),
    log:
        "logs/tables/table1.log",
    localrule: True
    conda:
        "../../environment.yml"
    script:
        "../scripts/table1.py"
