"""Write a dataset variant's verified files under its own folder (the registered dataset's generator,
the variant's args)."""
from common import log_to

from vhp_core import datasets

log_to(snakemake.log[0])
datasets.prepare(snakemake.wildcards.kind, snakemake.params.root, snakemake.params.args)
