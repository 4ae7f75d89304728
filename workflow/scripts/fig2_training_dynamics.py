"""Fig. 2: posterior and prior of the pendulum at the snapshot steps, and beta over steps."""
from common import start

from vhp_core.report.plots import save_figure, training_dynamics

start(snakemake)
runs = {label: (snap, log) for label, snap, log in
        zip(snakemake.params.labels.values(), snakemake.input.snapshots, snakemake.input.logs)}
save_figure(training_dynamics(runs), snakemake.output.png, snakemake.output.pdf)
