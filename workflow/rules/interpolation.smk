rule interpolate:
    """Graph-based interpolation of one trained run between the dataset's endpoint pairs (Sec. 2.3)."""
    input:
        model=f"{RUN}/model.pt",
    output:
        f"{RUN}/interpolation.npz",
    log:
        "logs/{dataset}/{method}/seed{seed}/interpolate.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        settings=interpolation_settings,
    script:
        "../scripts/interpolate.py"


rule smoothness_run:
    """Smoothness factors of one run: graphs x interpolations between random test items (Fig. 7), the
    normalised smoothness of the same paths and the test items' reconstruction error."""
    input:
        model=f"{RUN}/model.pt",
    output:
        f"{RUN}/smoothness.npz",
    log:
        "logs/{dataset}/{method}/seed{seed}/smoothness.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        settings=interpolation_settings,
        graphs=lambda wildcards: config["figures"]["smoothness"]["graphs"],
        interpolations=lambda wildcards: config["figures"]["smoothness"][
            "interpolations"
        ],
    script:
        "../scripts/smoothness.py"


rule fig3_fig4_pendulum_interpolation:
    """Figs. 3-4: the pendulum graphs with the 0-180 degree path, and the decoded frames along it."""
    input:
        figure_runs("pendulum_interpolation", "interpolation.npz"),
    output:
        fig3=report(
            "results/figures/fig3_pendulum_graphs.png",
            caption="../report/fig3.rst",
            category="Figures",
        ),
        fig3_pdf="results/figures/fig3_pendulum_graphs.pdf",
        fig4=report(
            "results/figures/fig4_pendulum_frames.png",
            caption="../report/fig4.rst",
            category="Figures",
        ),
        fig4_pdf="results/figures/fig4_pendulum_frames.pdf",
        csv="results/tables/pendulum_interpolation.csv",
        html=report(
            "results/tables/pendulum_interpolation.html",
            caption="../report/pendulum_interpolation.rst",
            category="Figures",
        ),
    log:
        "logs/figures/fig3_fig4_pendulum_interpolation.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        labels=method_labels(config["figures"]["pendulum_interpolation"]["methods"]),
        jump_factor=config["figures"]["pendulum_interpolation"]["jump_factor"],
    script:
        "../scripts/fig3_fig4_pendulum_interpolation.py"


rule fig5_fig6_mocap_interpolation:
    """Figs. 5-6: the mocap graphs with four interpolations, and the red one decoded as stick figures."""
    input:
        runs=figure_runs("mocap_interpolation", "interpolation.npz"),
        data=manifest_path(config, config["figures"]["mocap_interpolation"]["dataset"]),
    output:
        fig5=report(
            "results/figures/fig5_mocap_graphs.png",
            caption="../report/fig5.rst",
            category="Figures",
        ),
        fig5_pdf="results/figures/fig5_mocap_graphs.pdf",
        fig6=report(
            "results/figures/fig6_mocap_movements.png",
            caption="../report/fig6.rst",
            category="Figures",
        ),
        fig6_pdf="results/figures/fig6_mocap_movements.pdf",
    log:
        "logs/figures/fig5_fig6_mocap_interpolation.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        labels=method_labels(config["figures"]["mocap_interpolation"]["methods"]),
        figure=config["figures"]["mocap_interpolation"],
        data_root=lambda wildcards, input: str(Path(input.data).parent.parent),
        data_args=config["datasets"][
            config["figures"]["mocap_interpolation"]["dataset"]
        ]["args"],
    script:
        "../scripts/fig5_fig6_mocap_interpolation.py"


rule fig7_smoothness:
    """Fig. 7: the smoothness factor per joint channel, mean and std per method; its table beside the paper,
    with the normalised smoothness and the reconstruction error."""
    input:
        runs=smoothness_inputs(),
        data=manifest_path(config, config["figures"]["smoothness"]["dataset"]),
    output:
        png=report(
            "results/figures/fig7_smoothness.png",
            caption="../report/fig7.rst",
            category="Figures",
        ),
        pdf="results/figures/fig7_smoothness.pdf",
        csv="results/tables/smoothness.csv",
        seeds_csv="results/tables/smoothness_seeds.csv",
        md="results/tables/smoothness.md",
        html=report(
            "results/tables/smoothness.html",
            caption="../report/smoothness.rst",
            category="Smoothness",
        ),
    log:
        "logs/figures/fig7_smoothness.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        labels=method_labels(config["figures"]["smoothness"]["methods"]),
        seeds=smoothness_seeds(),
        data_root=lambda wildcards, input: str(Path(input.data).parent.parent),
        data_args=config["datasets"][config["figures"]["smoothness"]["dataset"]]["args"],
    script:
        "../scripts/fig7_smoothness.py"


rule fig7_tradeoff:
    """Fig. 7's trade-off: per method and seed, the smoothness factor and the normalised smoothness against
    the test frames' reconstruction error, so a smoothness won by blurring shows as such.
    """
    input:
        rules.fig7_smoothness.output.seeds_csv,
    output:
        png=report(
            "results/figures/fig7_tradeoff.png",
            caption="../report/fig7_tradeoff.rst",
            category="Figures",
        ),
        pdf="results/figures/fig7_tradeoff.pdf",
    log:
        "logs/figures/fig7_tradeoff.log",
    localrule: True
    conda:
        "../../environment.yml"
    script:
        "../scripts/fig7_tradeoff.py"
