"""Baselines of Table 2 (VampPrior, IWAE L=1 and L=2), built from vhp_core's parts."""
from baselines import vampprior  # noqa: F401  (registers the "vampprior" prior)
