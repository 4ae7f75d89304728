"""The scales' configs (YAML beside this file), installed as the package data `vhp_core.configs` so that
`vhp-bench` finds them from any working directory (`vhp_core.cli.SHIPPED`)."""
