"""A prior defined outside vhp-bench: a Gaussian whose mean and variances are learned."""
import torch
from torch import nn

from vhp_core.maths.distributions import log_normal_diag, reparameterise
from vhp_core.maths.priors import PRIORS, Prior


@PRIORS.register("learned_gaussian")
class LearnedGaussian(Prior):
    """p(z) = N(z; m, diag exp(s)), with m and s trained with the rest of the prior's parameters."""

    def __init__(self, latent_dim: int, init_logvar: float = 0.0):
        super().__init__(latent_dim)
        if not -10.0 <= init_logvar <= 10.0:
            raise ValueError(f"init_logvar = {init_logvar} must lie in [-10, 10]")
        self.mean = nn.Parameter(torch.zeros(latent_dim))
        self.logvar = nn.Parameter(torch.full((latent_dim,), float(init_logvar)))

    def log_prob_iw(self, z: torch.Tensor, k: int) -> torch.Tensor:
        """Closed form, so exact whatever k: (..., d) -> (...)."""
        return log_normal_diag(z, self.mean, self.logvar)

    def sample(self, n: int) -> torch.Tensor:
        return reparameterise(self.mean.expand(n, -1), self.logvar.expand(n, -1))
