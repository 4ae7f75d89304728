"""Fig. 7: smoothness factor per joint channel and method (over graphs, interpolations and seeds), as a
figure, a CSV and a Markdown table."""
from common import log_to

from vhp_core.datasets.mocap import load_meta
from vhp_core.io import atomic_path, write_text
from vhp_core.plots import save_figure
from vhp_core.plots_mocap import smoothness_figure, smoothness_markdown, smoothness_table

log_to(snakemake.log[0])
meta = load_meta(snakemake.params.data_root, snakemake.params.data_args)
per_method = len(snakemake.params.seeds)
files = list(snakemake.input.runs)
runs = {label: files[i * per_method:(i + 1) * per_method] for i, label in enumerate(snakemake.params.labels.values())}
table = smoothness_table(runs, meta)
save_figure(smoothness_figure(table), snakemake.output.png, snakemake.output.pdf)
with atomic_path(snakemake.output.csv) as tmp:
    table.to_csv(tmp, index=False)
write_text(snakemake.output.md, smoothness_markdown(table))
