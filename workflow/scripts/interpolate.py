"""Write interpolation.npz: the graph and the interpolations of one trained run."""
import numpy as np
from common import log_to

from vhp_core.runs.interpolation_runs import interpolation_run
from vhp_core.io import atomic_path

log_to(snakemake.log[0])
arrays = interpolation_run(snakemake.input.model, snakemake.params.settings)
with atomic_path(snakemake.output[0]) as tmp, open(tmp, "wb") as f:
    np.savez(f, **arrays)
