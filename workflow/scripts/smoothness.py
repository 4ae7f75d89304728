"""Write smoothness.npz: the smoothness factors of one run's interpolations between random test items."""
import numpy as np
from common import start

from vhp_core.runs.interpolation_runs import smoothness_run
from vhp_core.io import atomic_path

start(snakemake)
arrays = smoothness_run(snakemake.input.model, snakemake.params.settings, snakemake.params.graphs,
                        snakemake.params.interpolations)
with atomic_path(snakemake.output[0]) as tmp, open(tmp, "wb") as f:
    np.savez(f, **arrays)
