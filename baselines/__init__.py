"""Baselines of Table 2 (VampPrior; IWAE L=1 and L=2 are configurations of vhp_core's parts). Installed as
`vhp_core.baselines`; the VampPrior registers through the `vhp_bench.priors` entry point, as a plugin would."""
