"""Write metrics.json for one trained run."""
from common import log_to

from vhp_core.runs.evaluate import evaluate_run
from vhp_core.io import write_json

log_to(snakemake.log[0])
write_json(snakemake.output[0], evaluate_run(snakemake.input.model))
