"""Fig. 7: smoothness factor per joint channel and method (over graphs, interpolations and seeds), as a
figure, a CSV and a Markdown table with the normalised smoothness and the reconstruction error beside it,
and a CSV of both measures and the reconstruction error per method and seed."""
from common import start

from vhp_core.datasets.mocap import load_meta
from vhp_core.io import atomic_path, write_text
from vhp_core.report.plots import save_figure
from vhp_core.report.tables import to_html
from vhp_core.report.plots_mocap import (
    smoothness_figure,
    smoothness_markdown,
    smoothness_points,
    smoothness_runs,
    smoothness_table,
)

start(snakemake)
meta = load_meta(snakemake.params.data_root, snakemake.params.data_args)
runs = smoothness_runs(list(snakemake.input.runs), list(snakemake.params.labels.values()), snakemake.params.seeds)
table = smoothness_table(runs, meta)
points = smoothness_points(runs)
save_figure(smoothness_figure(table), snakemake.output.png, snakemake.output.pdf)
with atomic_path(snakemake.output.csv) as tmp:
    table.to_csv(tmp, index=False)
with atomic_path(snakemake.output.seeds_csv) as tmp:
    points.to_csv(tmp, index=False)
write_text(snakemake.output.md, smoothness_markdown(table, points))
write_text(snakemake.output.html, to_html([("Fig. 7: smoothness per joint channel and method", table)],
                                          "Smoothness of mocap interpolations"))
