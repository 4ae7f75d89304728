# One training job per pack of runs (config key `pack`; 1 = one job per run). A pack trains its runs as
# one batched model and writes each run's files in the run's own digest-keyed folder (run_folder), as a
# job of one run would; publish_run then copies them to results/{dataset}/{method}/seed{seed}/.
for pack in PACKS:

    rule:
        name:
            pack_name(pack)
        input:
            manifest_path(config, pack[0][0]),
        output:
            [
                f"{run_folder(d, m, s)}/{name}"
                for d, m, s in pack
                for name in run_files_of(d)
            ],
        log:
            f"logs/train/{pack_name(pack)}.log",
        benchmark:
            f"logs/train/{pack_name(pack)}.benchmark.tsv"
        conda:
            "../../environment.yml"
        threads: config["torch_threads"]
        resources:
            mem_mb=2000 + 500 * (len(pack) - 1),
            runtime=train_runtime(pack),
            gpu=config["gpus_per_job"],
        params:
            # without `runtime`, which the script adds from the config: changing it must not rerun finished jobs
            specs=[run_identity(resolve_run(config, d, m, s)) for d, m, s in pack],
            run_dirs=[run_folder(d, m, s) for d, m, s in pack],
        script:
            "../scripts/train.py"


# A finished run's files, copied from its training folder to the folder the tables read, all at once; the
# version they replace stayed in place while the new one trained. Datasets with learning curves add curve.csv.
for curves in (False, True):
    published = [
        d for d in config["datasets"] if ("curves" in config["datasets"][d]) == curves
    ]

    rule:
        name:
            "publish_run_with_curve" if curves else "publish_run"
        input:
            lambda w: [
                f"{run_folder(w.dataset, w.method, w.seed)}/{name}"
                for name in run_files_of(w.dataset)
            ],
        output:
            [f"{RUN}/{name}" for name in RUN_FILES + (["curve.csv"] if curves else [])],
        log:
            "logs/{dataset}/{method}/seed{seed}/publish.log",
        wildcard_constraints:
            dataset="|".join(published) if published else "(?!)",
        localrule: True
        conda:
            "../../environment.yml"
        script:
            "../scripts/publish_run.py"


rule evaluate:
    """Metrics of one trained run: test -ELBO, active units, the angle read-outs (pendulum), also at the
    snapshot steps."""
    input:
        model=f"{RUN}/model.pt",
        snapshots=f"{RUN}/snapshots.npz",
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
    params:
        metrics_version=METRICS_VERSION,
    script:
        "../scripts/evaluate.py"


rule nll:
    """Test NLL of one trained run by importance sampling (Table 2; Burda et al. 2016, Sec. 5)."""
    input:
        model=f"{RUN}/model.pt",
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
        runtime=nll_runtime,
        gpu=config["gpus_per_job"],
    params:
        nll=nll_params,
    script:
        "../scripts/nll.py"
