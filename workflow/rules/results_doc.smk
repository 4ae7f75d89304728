rule results_doc:
    """docs/results.md: each configured section's table, figures and verdicts, computed from its files."""
    input:
        results_doc_inputs(),
    output:
        "docs/results.md",
    log:
        "logs/results_doc.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        parts=results_doc_parts(),
        scales=scale_notes(config),
        labels=method_labels(config["methods"]),
        configfiles=config_files(),
    script:
        "../scripts/results_doc.py"
