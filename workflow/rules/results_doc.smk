# pages as {section}-{TAG}.md beside the untagged ones
TAG = config["results_doc"].get("tag")


rule results_doc:
    """docs/results/{section}.md (or {section}-{tag}.md) per configured section: its table, figures (copied beside it,
    docs/results/figures/) and verdicts, computed from its files; docs/results.md indexes every section page there,
    the others' as they were.
    """
    input:
        results_doc_inputs(),
    output:
        pages=[
            f"docs/results/{page_name(name, TAG)}.md"
            for name in config["results_doc"]["sections"]
        ],
        figures=[
            f"docs/results/{page_figure(page_name(name, TAG), figure)}"
            for name, part in results_doc_parts().items()
            for figure in part["figures"]
        ],
        index="docs/results.md",
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
        tag=TAG,
    script:
        "../scripts/results_doc.py"
