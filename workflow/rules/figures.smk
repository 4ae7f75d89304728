rule figures:
    """Every figure."""
    input:
        figure_outputs(),


rule fig1_beta_landscape:
    """Fig. 1: the REWO beta update over beta_{t-1} and C_hat - kappa^2."""
    output:
        png=report(
            "results/figures/fig1_beta_landscape.png",
            caption="../report/fig1.rst",
            category="Figures",
        ),
        pdf="results/figures/fig1_beta_landscape.pdf",
    log:
        "logs/figures/fig1_beta_landscape.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        nu=config["figures"]["beta_landscape"]["nu"],
        tau=config["figures"]["beta_landscape"]["tau"],
    script:
        "../scripts/fig1_beta_landscape.py"


rule fig2_training_dynamics:
    """Fig. 2: pendulum posterior and prior at several iterations, and beta, REWO vs GECO."""
    input:
        snapshots=figure_runs("training_dynamics", "snapshots.npz"),
        logs=figure_runs("training_dynamics", "train_log.csv"),
    output:
        png=report(
            "results/figures/fig2_training_dynamics.png",
            caption="../report/fig2.rst",
            category="Figures",
        ),
        pdf="results/figures/fig2_training_dynamics.pdf",
    log:
        "logs/figures/fig2_training_dynamics.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        labels=method_labels(config["figures"]["training_dynamics"]["methods"]),
    script:
        "../scripts/fig2_training_dynamics.py"
