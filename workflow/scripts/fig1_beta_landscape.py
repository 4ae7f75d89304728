"""Fig. 1: the REWO beta-update landscape."""
from common import log_to

from vhp_core.report.plots import beta_landscape, save_figure

log_to(snakemake.log[0])
save_figure(beta_landscape(snakemake.params.nu, snakemake.params.tau), snakemake.output.png, snakemake.output.pdf)
