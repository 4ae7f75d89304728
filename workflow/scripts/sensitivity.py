"""The sensitivity study of Table 1's read-outs: its table (CSV and Markdown) and its figure."""
from common import start

from vhp_core.report.paper import TABLE1_ABS_ERROR
from vhp_core.report.plots import save_figure, sensitivity_figure
from vhp_core.report.tables import read_metrics, sensitivity_display, sensitivity_table, write_table

start(snakemake)
metrics = read_metrics(snakemake.input)
table = sensitivity_table(metrics, snakemake.params.levels, snakemake.params.labels)
write_table(table, snakemake.output.csv, snakemake.output.md, display=sensitivity_display, html_path=snakemake.output.html,
            title=f"Sensitivity of {snakemake.params.reference} on {snakemake.params.dataset}: Table 1's read-outs")
save_figure(sensitivity_figure(table, metrics, TABLE1_ABS_ERROR.get(snakemake.params.reference)),
            snakemake.output.png, snakemake.output.pdf)
