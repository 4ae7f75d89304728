"""Figs. 5-6: mocap graphs with four interpolations per method, and one of them as stick figures."""
from common import start

from vhp_core.datasets.mocap import load_meta
from vhp_core.report.plots import save_figure
from vhp_core.report.plots_mocap import mocap_graphs, mocap_movements

start(snakemake)
meta = load_meta(snakemake.params.data_root, snakemake.params.data_args)
runs = dict(zip(snakemake.params.labels.values(), snakemake.input.runs, strict=True))
figure = snakemake.params.figure
save_figure(mocap_graphs(runs, meta.motions), snakemake.output.fig5, snakemake.output.fig5_pdf)
save_figure(mocap_movements(runs, meta, figure["pair"], figure["jump_factor"]), snakemake.output.fig6,
            snakemake.output.fig6_pdf)
