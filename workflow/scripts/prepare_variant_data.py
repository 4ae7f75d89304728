"""Write a dataset variant's verified files under its own folder (the registered dataset's generator,
the variant's args)."""
from common import start

from vhp_core import datasets

start(snakemake)
datasets.prepare(snakemake.wildcards.kind, snakemake.params.root, snakemake.params.args)
