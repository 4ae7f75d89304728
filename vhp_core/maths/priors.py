"""Priors p(z), registered by name so that a new prior is one class plus one config line; the VHP is
docs/method.md §2 (Eq. 7-8).

Contract: `log_prob_iw(z, k)` returns a K-sample importance-weighted lower bound on log p(z) with
shape z.shape[:-1] (exact, whatever k, for priors with a closed-form density); with k = 1 it is the
log of an unbiased estimate of p(z), which the NLL evaluator uses for joint importance samples.
"""
import math
from typing import Any

import torch
from torch import nn

from vhp_core.maths.distributions import log_standard_normal, reparameterise
from vhp_core.maths.networks import ConditionalGaussian
from vhp_core.registry import Registry

PRIORS: Registry[type["Prior"]] = Registry("priors")
"""Priors by name: `@PRIORS.register("name")` on a subclass of Prior."""


class Prior(nn.Module):
    """Base class; subclasses implement `log_prob_iw` and `sample`."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)  # follows .to(device)

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    @classmethod
    def from_config(cls, latent_dim: int, args: dict[str, Any], encoder: nn.Module) -> "Prior":
        """Build from the config's `prior_args`; priors that need the encoder (VampPrior) override this."""
        return cls(latent_dim, **args)

    def log_prob_iw(self, z: torch.Tensor, k: int) -> torch.Tensor:
        raise NotImplementedError

    def sample(self, n: int) -> torch.Tensor:
        raise NotImplementedError

    def data_init(self, mu: torch.Tensor, std: torch.Tensor) -> dict[str, torch.Tensor]:
        """Data-dependent starting values of named parameters, from the posterior means and stds (N, d)
        of the batch of the prior's first update; most priors need none. A prior that returns some keeps
        a boolean buffer `initialised`, which the trainer sets once it has applied them."""
        return {}


@PRIORS.register("standard_normal")
class StandardNormal(Prior):
    """p(z) = N(0, I)."""

    def log_prob_iw(self, z: torch.Tensor, k: int) -> torch.Tensor:
        return log_standard_normal(z)

    def sample(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=self.device)


@PRIORS.register("vhp")
class HierarchicalPrior(Prior):
    """VHP: p_Theta(z) = int p_Theta(z|zeta) N(zeta; 0, I) dzeta with proposal q_Phi(zeta|z) (Eq. 7-8).

    The two networks see z standardised, u = (z - loc) / scale, with loc and log scale learned like
    the rest of Theta and initialised from the aggregate posterior of the first batch the prior is
    trained on (as ActNorm in Glow). This only reparameterises the networks' first and last layers,
    but without it the prior collapses to a blob when the codes are far from unit scale, as REWO's
    initial phase leaves them (docs/deviations.md). `standardise: false` gives the paper's prior as
    written (loc = 0, scale = 1, fixed), for the sensitivity study."""

    def __init__(self, latent_dim: int, zeta_dim: int, hidden: list[int], activation: str, standardise: bool = True):
        super().__init__(latent_dim)
        self.zeta_dim = zeta_dim
        self.standardise = standardise
        self.p_z = ConditionalGaussian(zeta_dim, latent_dim, hidden, activation)  # p_Theta(u|zeta)
        self.q_zeta = ConditionalGaussian(latent_dim, zeta_dim, hidden, activation)  # q_Phi(zeta|u)
        if standardise:
            self.loc = nn.Parameter(torch.zeros(latent_dim))
            self.log_scale = nn.Parameter(torch.zeros(latent_dim))
            self.register_buffer("initialised", torch.tensor(False))
        else:
            self.register_buffer("loc", torch.zeros(latent_dim))
            self.register_buffer("log_scale", torch.zeros(latent_dim))

    def data_init(self, mu: torch.Tensor, std: torch.Tensor) -> dict[str, torch.Tensor]:
        """loc, scale = the mean and standard deviation per dimension of the batch's aggregate posterior
        (1/N) sum_n q(z|x_n), the distribution the prior is fitted to: scale^2 = var(mu) + mean(std^2)."""
        if not self.standardise:
            return {}
        scale2 = mu.var(0, correction=0) + std.pow(2).mean(0)
        return {"loc": mu.mean(0), "log_scale": scale2.sqrt().clamp_min(1e-3).log()}

    def log_prob_iw(self, z: torch.Tensor, k: int) -> torch.Tensor:
        """log (1/K) sum_k p_Theta(z|zeta_k) p(zeta_k) / q_Phi(zeta_k|z), zeta_k ~ q_Phi(zeta|z) (Eq. 8),
        with p_Theta(z|zeta) = p_Theta(u|zeta) / prod(scale)."""
        u = (z - self.loc) * torch.exp(-self.log_scale)
        zeta, log_q = self.q_zeta.sample(u, k)  # (K, ..., d_zeta), (K, ...)
        log_w = self.p_z.log_prob(u, zeta) + log_standard_normal(zeta) - log_q  # (K, ...)
        return torch.logsumexp(log_w, dim=0) - math.log(k) - self.log_scale.sum()

    def sample(self, n: int) -> torch.Tensor:
        zeta = torch.randn(n, self.zeta_dim, device=self.device)
        return self.loc + torch.exp(self.log_scale) * reparameterise(*self.p_z(zeta))

