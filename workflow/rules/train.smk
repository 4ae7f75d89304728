rule train:
    """Train one (dataset, method, seed); resumes from its checkpoint if a previous attempt died."""
    input:
        rules.prepare_data.output,
    output:
        model=f"{RUN}/model.pt",
        log=f"{RUN}/train_log.csv",
        epochs=f"{RUN}/epochs.csv",
        snapshots=f"{RUN}/snapshots.npz",
    params:
        spec=lambda wildcards: resolve_run(
            config, wildcards.dataset, wildcards.method, wildcards.seed
        ),
        run_dir=RUN,
    log:
        "logs/{dataset}/{method}/seed{seed}/train.log",
    benchmark:
        "logs/{dataset}/{method}/seed{seed}/train.benchmark.tsv"
    threads: config["torch_threads"]
    resources:
        mem_mb=2000,
        runtime=train_runtime,
    conda:
        "../../environment.yml"
    script:
        "../scripts/train.py"


rule evaluate:
    """Metrics of one trained run: test -ELBO, active units, the OLS angle error (pendulum)."""
    input:
        model=rules.train.output.model,
    output:
        f"{RUN}/metrics.json",
    log:
        "logs/{dataset}/{method}/seed{seed}/evaluate.log",
    benchmark:
        "logs/{dataset}/{method}/seed{seed}/evaluate.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../environment.yml"
    script:
        "../scripts/evaluate.py"


rule nll:
    """Test NLL of one trained run by importance sampling (Table 2; method.md §4)."""
    input:
        model=rules.train.output.model,
    output:
        f"{RUN}/nll.json",
    params:
        nll=nll_params,
    log:
        "logs/{dataset}/{method}/seed{seed}/nll.log",
    benchmark:
        "logs/{dataset}/{method}/seed{seed}/nll.benchmark.tsv"
    threads: config["torch_threads"]
    resources:
        mem_mb=2000,
        runtime=600,
    conda:
        "../../environment.yml"
    script:
        "../scripts/nll.py"
