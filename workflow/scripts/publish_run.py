"""Copy a finished run's files from its training folder to results/{dataset}/{method}/seed{seed}/, each file
atomically. A script, not a `run:` block: Snakemake runs a `run:` job in a new Snakemake process that parses
the whole workflow again (about 20 s a run here, against about 1 s for this script)."""
from common import start

from vhp_core.io import publish_copy

start(snakemake)
for source, target in zip(snakemake.input, snakemake.output, strict=True):
    publish_copy(source, target)
