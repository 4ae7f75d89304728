"""Shared by the workflow scripts: send logging and stderr (progress bars) to the rule's log file, and
stop before any work when a folder the job writes to is not writable."""
import logging
import sys
from pathlib import Path
from typing import Any

from vhp_core.io import require_writable


def start(snakemake: Any) -> None:
    """Log to the rule's log file; check that every output's folder takes writes (a read-only results
    folder would otherwise fail the job at its end, after the work)."""
    sys.stderr = open(snakemake.log[0], "w", buffering=1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for folder in sorted({Path(path).parent for path in snakemake.output}):
        require_writable(folder, f"rule {snakemake.rule}")
