"""Table 2's learning curves: every run's curve.csv in one figure, the paper's values marked."""
from pathlib import Path

import pandas as pd
from common import start

from vhp_core.report.plots import learning_curves, save_figure

start(snakemake)
frames = []
for path in snakemake.input:
    dataset, method, seed = Path(path).parts[-4:-1]
    frames.append(pd.read_csv(path).assign(dataset=dataset, method=method, seed=int(seed.removeprefix("seed"))))
save_figure(learning_curves(pd.concat(frames), snakemake.params.labels), snakemake.output.png, snakemake.output.pdf)
