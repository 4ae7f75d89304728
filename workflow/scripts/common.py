"""Shared by the workflow scripts: send logging and stderr (progress bars) to the rule's log file."""
import logging
import sys


def log_to(path: str) -> None:
    sys.stderr = open(path, "w", buffering=1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
