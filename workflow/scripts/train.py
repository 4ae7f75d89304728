"""Train one pack of runs (one run, or several as one batched model); in-progress state stays in each
run's work/ folder so a rerun resumes it."""
import logging

from common import start

from vhp_core.runs.config import run_runtime
from vhp_core.runs.train import train_pack

start(snakemake)
specs = [{**spec, "runtime": run_runtime(snakemake.config, spec["dataset"])} for spec in snakemake.params.specs]
summaries = train_pack(specs, snakemake.params.run_dirs)
for run_dir, summary in zip(snakemake.params.run_dirs, summaries):
    logging.getLogger("train").info("%s finished: %s", run_dir, summary)
