"""Write one dataset's verified files under the data root."""
from common import start

from vhp_core import datasets

start(snakemake)
datasets.prepare(snakemake.wildcards.dataset, snakemake.params.root, snakemake.params.args)
