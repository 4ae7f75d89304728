"""Figs. 3-4: pendulum graphs and decoded paths per method, and the paths' angle steps as a CSV."""
import pandas as pd
from common import start

from vhp_core.io import atomic_path, write_text
from vhp_core.report.plots import save_figure
from vhp_core.report.tables import to_html
from vhp_core.report.plots_interpolation import pendulum_frames, pendulum_graphs, pendulum_summary

start(snakemake)
runs = dict(zip(snakemake.params.labels.values(), snakemake.input, strict=True))
save_figure(pendulum_graphs(runs), snakemake.output.fig3, snakemake.output.fig3_pdf)
save_figure(pendulum_frames(runs, snakemake.params.jump_factor),
            snakemake.output.fig4, snakemake.output.fig4_pdf)
summary = pd.DataFrame(pendulum_summary(runs, snakemake.params.jump_factor))
with atomic_path(snakemake.output.csv) as tmp:
    summary.to_csv(tmp, index=False)
write_text(snakemake.output.html, to_html([("Figs. 3-4: steps of the decoded 0-180 degree paths", summary)],
                                          "Pendulum interpolation"))
