"""Fig. 7's trade-off: smoothness (the paper's factor and the normalised one) against the test frames'
reconstruction error, one point per method and seed (the per-seed table Fig. 7's rule writes)."""
import pandas as pd
from common import start

from vhp_core.report.plots import save_figure
from vhp_core.report.plots_mocap import tradeoff_figure

start(snakemake)
save_figure(tradeoff_figure(pd.read_csv(snakemake.input[0])), snakemake.output.png, snakemake.output.pdf)
