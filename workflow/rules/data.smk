rule prepare_variant_data:
    """A variant of a registered dataset (config `like:`), in a folder of its own under variants/."""
    output:
        f"{DATA}/variants/{{dataset}}/{{kind}}/manifest.json",
    log:
        "logs/data/variants/{dataset}/{kind}.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        args=lambda wildcards: config["datasets"][wildcards.dataset]["args"],
        root=lambda wildcards, output: str(Path(output[0]).parent.parent),
    script:
        "../scripts/prepare_variant_data.py"


rule prepare_data:
    """Generate (pendulum) or fetch and verify a dataset into the data folder."""
    output:
        f"{DATA}/{{dataset}}/manifest.json",
    log:
        "logs/data/{dataset}.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        args=lambda wildcards: config["datasets"][wildcards.dataset]["args"],
        root=lambda wildcards, output: str(Path(output[0]).parent.parent),
    script:
        "../scripts/prepare_data.py"
