"""Aggregate nll.json and metrics.json of every run into Table 2 and the active-units table."""
from common import start

from vhp_core.report.plots import save_figure, table2_figure
from vhp_core.report.tables import active_units_table, read_metrics, table2, table2_display, write_table

start(snakemake)
labels = snakemake.params.labels
nll = table2(read_metrics(snakemake.input.nll), labels)
write_table(nll, snakemake.output.csv, snakemake.output.md, title="Table 2: test NLL (nats) by importance sampling",
            display=table2_display, html_path=snakemake.output.html)
save_figure(table2_figure(nll), snakemake.output.png, snakemake.output.pdf)
write_table(active_units_table(read_metrics(snakemake.input.metrics), labels), snakemake.output.units_csv,
            snakemake.output.units_md, title="Active units (variance of E[z|x] over x above 0.01)",
            html_path=snakemake.output.units_html)
