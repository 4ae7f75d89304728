"""Runs: config resolution, the (packed) training loop and its checkpoints, evaluation, cost estimates.
Builds on the maths and the datasets; never imports the report."""
