"""Aggregate the runs' metrics.json into Table 1 (CSV and Markdown, the paper's numbers beside) and its
strip plot of the per-seed errors."""
from common import start

from vhp_core.report.plots import save_figure, table1_strip
from vhp_core.report.tables import read_metrics, table1, table1_display, write_table

start(snakemake)
metrics = read_metrics(snakemake.input)
write_table(table1(metrics, snakemake.params.labels), snakemake.output.csv, snakemake.output.md,
            title="Table 1: angle read-outs of the pendulum's 2-D codes (radians)", display=table1_display,
            html_path=snakemake.output.html)
save_figure(table1_strip(metrics, snakemake.params.labels), snakemake.output.png, snakemake.output.pdf)
