rule train:
    """Train one (dataset, method, seed); resumes from its checkpoint if a previous attempt died."""
    input:
        rules.prepare_data.output,
    output:
        model=f"{RUN}/model.pt",
        log=f"{RUN}/train_log.csv",
        epochs=f"{RUN}/epochs.csv",
        snapshots=f"{RUN}/snapshots.npz",
    log:
        "logs/{dataset}/{method}/seed{seed}/train.log",
    benchmark:
        "logs/{dataset}/{method}/seed{seed}/train.benchmark.tsv"
    conda:
        "../../environment.yml"
    threads: config["torch_threads"]
    resources:
        mem_mb=2000,
        runtime=train_runtime,
    params:
        spec=lambda wildcards: resolve_run(
            config, wildcards.dataset, wildcards.method, wildcards.seed
        ),
        run_dir=RUN,
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
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../scripts/evaluate.py"


rule nll:
    """Test NLL of one trained run by importance sampling (Table 2; method.md §4)."""
    input:
        model=rules.train.output.model,
    output:
        f"{RUN}/nll.json",
    log:
        "logs/{dataset}/{method}/seed{seed}/nll.log",
    benchmark:
        "logs/{dataset}/{method}/seed{seed}/nll.benchmark.tsv"
    conda:
        "../../environment.yml"
    threads: config["torch_threads"]
    resources:
        mem_mb=2000,
        runtime=600,
    params:
        nll=nll_params,
    script:
        "../scripts/nll.py"
