"""Write interpolation.npz: the graph and the interpolations of one trained run."""
import numpy as np
from common import start

from vhp_core.runs.interpolation_runs import interpolation_run
from vhp_core.io import atomic_path

start(snakemake)
arrays = interpolation_run(snakemake.input.model, snakemake.params.settings)
with atomic_path(snakemake.output[0]) as tmp, open(tmp, "wb") as f:
    np.savez(f, **arrays)
