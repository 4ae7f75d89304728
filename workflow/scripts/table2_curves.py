"""Table 2's learning curves: every run's curve.csv in one figure, the paper's values marked, and where each
(dataset, method)'s curve ended and how fast it was still falling."""
from pathlib import Path

import pandas as pd
from common import start

from vhp_core.io import write_text
from vhp_core.report.plots import learning_curves, save_figure
from vhp_core.report.tables import curve_summary

start(snakemake)
frames = []
for path in snakemake.input:
    dataset, method, seed = Path(path).parts[-4:-1]
    frames.append(pd.read_csv(path).assign(dataset=dataset, method=method, seed=int(seed.removeprefix("seed"))))
curves = pd.concat(frames)
save_figure(learning_curves(curves, snakemake.params.labels), snakemake.output.png, snakemake.output.pdf)
write_text(snakemake.output.csv, curve_summary(curves, snakemake.params.labels).to_csv(index=False))
