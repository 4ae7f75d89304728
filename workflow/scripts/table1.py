"""Aggregate the runs' metrics.json into Table 1 (CSV and Markdown, the paper's numbers beside)."""
from common import log_to

from vhp_core.tables import read_metrics, table1, write_table

log_to(snakemake.log[0])
table = table1(read_metrics(snakemake.input), snakemake.params.labels)
write_table(table, snakemake.output.csv, snakemake.output.md, title="Table 1: OLS angle error on the pendulum (radians)")
