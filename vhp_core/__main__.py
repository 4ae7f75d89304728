"""`python -m vhp_core`: the same command line as `vhp-bench` (vhp_core.cli)."""
from vhp_core.cli import main

main()
