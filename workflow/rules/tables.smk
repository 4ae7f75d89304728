rule table1:
    """Table 1: angle read-outs on the pendulum over seeds, beside the paper; per-seed strip plot."""
    input:
        table_inputs("table1"),
    output:
        csv="results/tables/table1.csv",
        md="results/tables/table1.md",
        html=report(
            "results/tables/table1.html",
            caption="../report/table1.rst",
            category="Table 1",
        ),
        png=report(
            "results/figures/table1_seeds.png",
            caption="../report/table1_seeds.rst",
            category="Table 1",
        ),
        pdf="results/figures/table1_seeds.pdf",
    log:
        "logs/tables/table1.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        labels=method_labels(config["tables"]["table1"]["methods"]),
    script:
        "../scripts/table1.py"


rule table2:
    """Table 2: importance-sampled test NLL per dataset and method, beside the paper; active units."""
    input:
        nll=table_inputs("table2", "nll.json"),
        metrics=table_inputs("table2"),
    output:
        csv="results/tables/table2.csv",
        md="results/tables/table2.md",
        html=report(
            "results/tables/table2.html",
            caption="../report/table2.rst",
            category="Table 2",
        ),
        units_csv="results/tables/active_units.csv",
        units_md="results/tables/active_units.md",
        units_html=report(
            "results/tables/active_units.html",
            caption="../report/active_units.rst",
            category="Table 2",
        ),
        png=report(
            "results/figures/table2_nll.png",
            caption="../report/table2_figure.rst",
            category="Table 2",
        ),
        pdf="results/figures/table2_nll.pdf",
    log:
        "logs/tables/table2.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        labels=method_labels(config["tables"]["table2"]["methods"]),
    script:
        "../scripts/table2.py"


if "sensitivity" in config:

    rule sensitivity:
        """Table 1's read-outs of one method with one setting changed at a time (sensitivity.yaml)."""
        input:
            sensitivity_inputs(),
        output:
            csv="results/tables/table1_sensitivity.csv",
            md="results/tables/table1_sensitivity.md",
            html=report(
                "results/tables/table1_sensitivity.html",
                caption="../report/table1_sensitivity_table.rst",
                category="Table 1",
            ),
            png=report(
                "results/figures/table1_sensitivity.png",
                caption="../report/table1_sensitivity.rst",
                category="Table 1",
            ),
            pdf="results/figures/table1_sensitivity.pdf",
        log:
            "logs/tables/table1_sensitivity.log",
        localrule: True
        conda:
            "../../environment.yml"
        params:
            levels=sensitivity_levels(config),
            labels=method_labels(config["methods"]),
            reference=config["sensitivity"]["method"],
            dataset=config["sensitivity"]["dataset"],
        script:
            "../scripts/sensitivity.py"


if CURVE_DATASETS:

    rule table2_curves:
        """Table 2's learning curves: cheap NLL estimates over training, the paper's values marked; where
        each curve ended and its slope over the last third of training (CSV)."""
        input:
            run_files(
                "curve.csv",
                CURVE_DATASETS,
                config["tables"]["table2"]["methods"],
                TABLE2_SEEDS,
            ),
        output:
            png=report(
                "results/figures/table2_curves.png",
                caption="../report/table2_curves.rst",
                category="Table 2",
            ),
            pdf="results/figures/table2_curves.pdf",
            csv="results/tables/table2_curves.csv",
        log:
            "logs/tables/table2_curves.log",
        localrule: True
        conda:
            "../../environment.yml"
        params:
            labels=method_labels(config["tables"]["table2"]["methods"]),
        script:
            "../scripts/table2_curves.py"
