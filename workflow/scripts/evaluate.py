"""Write metrics.json for one trained run."""
from common import start

from vhp_core.runs.evaluate import evaluate_run
from vhp_core.io import write_json

start(snakemake)
write_json(snakemake.output[0], evaluate_run(snakemake.input.model, snakemake.input.snapshots))
