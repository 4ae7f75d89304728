"""Train one run; in-progress state stays in the run's work/ folder so a rerun resumes it."""
import logging

from common import log_to

from vhp_core.train import train_run

log_to(snakemake.log[0])
summary = train_run(snakemake.params.spec, snakemake.params.run_dir)
logging.getLogger("train").info("finished: %s", summary)
