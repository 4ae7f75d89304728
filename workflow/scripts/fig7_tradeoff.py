"""Fig. 7's trade-off: smoothness (the paper's factor and the normalised one) against the test frames'
reconstruction error, one point per method and seed."""
from common import start

from vhp_core.report.plots import save_figure
from vhp_core.report.plots_mocap import smoothness_points, smoothness_runs, tradeoff_figure

start(snakemake)
runs = smoothness_runs(list(snakemake.input.runs), list(snakemake.params.labels.values()), snakemake.params.seeds)
save_figure(tradeoff_figure(smoothness_points(runs)), snakemake.output.png, snakemake.output.pdf)
