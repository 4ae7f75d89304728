"""Decoders p_theta(x|z): a network from z to the parameters of a likelihood, registered by name
(docs/method.md §1)."""
import torch
from torch import nn

from vhp_core.maths.distributions import log_bernoulli_logits, log_normal_diag
from vhp_core.maths.networks import mlp
from vhp_core.registry import Registry

LIKELIHOODS: Registry[type["Decoder"]] = Registry("likelihoods")
"""Decoders by name: `@LIKELIHOODS.register("name")` on a subclass of Decoder."""


class Decoder(nn.Module):
    """Base decoder: `params(z)` gives distribution parameters, `log_prob(x, z)` sums over data dimensions."""

    def __init__(self, latent_dim: int, data_dim: int, hidden: list[int], activation: str):
        super().__init__()
        self.data_dim = data_dim
        self.net = mlp([latent_dim, *hidden, data_dim], activation)

    def log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


@LIKELIHOODS.register("bernoulli")
class BernoulliDecoder(Decoder):
    """Bernoulli pixels from logits; grey-level targets in [0, 1] give the cross-entropy."""

    def log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return log_bernoulli_logits(x, self.net(z))

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(z))


@LIKELIHOODS.register("gaussian")
class GaussianDecoder(Decoder):
    """Gaussian with a mean from the network and one learned log-variance per data dimension."""

    def __init__(self, latent_dim: int, data_dim: int, hidden: list[int], activation: str):
        super().__init__(latent_dim, data_dim, hidden, activation)
        self.logvar = nn.Parameter(torch.zeros(data_dim))

    def log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return log_normal_diag(x, self.net(z), self.logvar)

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

