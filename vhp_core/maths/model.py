"""The VAE assembled from an encoder q_phi(z|x), a decoder p_theta(x|z) and a prior; every method is one
(docs/method.md §1)."""
from dataclasses import dataclass

import torch
from torch import nn

from vhp_core.maths.distributions import log_normal_diag, reparameterise
from vhp_core.maths.likelihoods import LIKELIHOODS
from vhp_core.maths.networks import ConditionalGaussian
from vhp_core.maths.priors import PRIORS, Prior


@dataclass
class ModelConfig:
    """Shapes and parts of one model; filled from the dataset's and the method's config entries."""

    data_dim: int
    latent_dim: int
    hidden: list[int]
    activation: str
    likelihood: str
    prior: str
    prior_args: dict


class VAE(nn.Module):
    """x -> q_phi(z|x) -> p_theta(x|z), with any registered prior over z."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = ConditionalGaussian(cfg.data_dim, cfg.latent_dim, cfg.hidden, cfg.activation)
        self.decoder = LIKELIHOODS[cfg.likelihood](cfg.latent_dim, cfg.data_dim, cfg.hidden[::-1], cfg.activation)
        self.prior: Prior = PRIORS[cfg.prior].from_config(cfg.latent_dim, cfg.prior_args, self.encoder)

    def prior_parameters(self) -> list[nn.Parameter]:
        """Theta, Phi: the parameters REWO's initial phase leaves untouched (Alg. 1)."""
        return list(self.prior.parameters())

    def reconstruct(self, x: torch.Tensor, s: int | None) -> tuple[torch.Tensor, ...]:
        """z ~ q_phi(z|x) (s samples per item, or one without a sample axis) with log q_phi(z|x), the
        reconstruction error C_theta(x, z) = -log p_theta(x|z), and the posterior means and log-variances:
        ((S,) B, d_z), ((S,) B), ((S,) B), (B, d_z), (B, d_z)."""
        mu, logvar = self.encoder(x)
        z = reparameterise(mu, logvar, s)
        return z, log_normal_diag(z, mu, logvar), -self.decoder.log_prob(x, z), mu, logvar

    def kl(self, z: torch.Tensor, log_q: torch.Tensor, k: int) -> torch.Tensor:
        """log q_phi(z|x) - IW_K(z), whose mean over z is the KL upper bound F of Eq. 9: ((S,) B)."""
        return log_q - self.prior.log_prob_iw(z, k)

    def rec_and_kl(self, x: torch.Tensor, s: int | None, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """C_theta(x, z) and log q_phi(z|x) - IW_K(z) for z ~ q_phi(z|x), ((S,) B) each."""
        z, log_q, rec, _, _ = self.reconstruct(x, s)
        return rec, self.kl(z, log_q, k)

    def log_importance_weights(self, x: torch.Tensor, s: int) -> torch.Tensor:
        """log p(x|z_s) + log p(z_s) - log q(z_s|x) for s joint samples, (S, B); a two-level prior
        contributes its one-sample weight, which keeps exp(weights) unbiased for p(x) (Burda et al. 2016, Sec. 5)."""
        rec, kl = self.rec_and_kl(x, s, 1)
        return -(rec + kl)

    @torch.no_grad()
    def encode_mean(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior means and standard deviations of q_phi(z|x), each (B, d_z)."""
        mu, logvar = self.encoder(x)
        return mu, torch.exp(0.5 * logvar)
