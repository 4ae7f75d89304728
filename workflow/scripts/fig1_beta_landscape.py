"""Fig. 1: the REWO beta-update landscape."""
from common import start

from vhp_core.report.plots import beta_landscape, save_figure

start(snakemake)
save_figure(beta_landscape(snakemake.params.nu, snakemake.params.tau), snakemake.output.png, snakemake.output.pdf)
