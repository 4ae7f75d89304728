"""Write one dataset's verified files under the data root."""
from common import log_to

from vhp_core import datasets

log_to(snakemake.log[0])
datasets.prepare(snakemake.wildcards.dataset, snakemake.params.root, snakemake.params.args)
