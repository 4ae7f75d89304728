"""Write nll.json: the importance-sampled test NLL of one trained run."""
import logging

import torch
from common import start

from vhp_core.runs.evaluate import evaluate_nll
from vhp_core.io import write_json

start(snakemake)
torch.set_num_threads(snakemake.threads)
result = evaluate_nll(snakemake.input.model, **snakemake.params.nll)
logging.getLogger("nll").info("%s", result)
write_json(snakemake.output[0], result)
