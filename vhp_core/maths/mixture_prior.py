"""A prior beyond the paper, and the worked example of docs/new_prior.md: a learned mixture of Gaussians.

p(z) = sum_k pi_k N(z; m_k, diag s_k^2), with K components whose means, log-variances and mixing
logits are all prior parameters (Theta), trained like the VHP's and frozen in REWO's initial phase.
"""
import torch
from torch import nn

from vhp_core.maths.distributions import log_normal_diag_components, reparameterise
from vhp_core.maths.networks import bound_logvar
from vhp_core.maths.priors import PRIORS, Prior


@PRIORS.register("mog")
class MixtureOfGaussians(Prior):
    """K diagonal Gaussians with learned weights. Init: means ~ N(0, I) so the components start spread
    over the standard normal's bulk, unit variances, equal weights. Log-variances are bounded to
    (-LOGVAR_BOUND, LOGVAR_BOUND) like every other stochastic layer, so no component collapses to a spike."""

    def __init__(self, latent_dim: int, n_components: int = 16):
        super().__init__(latent_dim)
        if n_components < 1:
            raise ValueError(f"n_components = {n_components} must be at least 1")
        self.means = nn.Parameter(torch.randn(n_components, latent_dim))  # (K, d)
        self.raw_logvars = nn.Parameter(torch.zeros(n_components, latent_dim))  # (K, d), log-variance 0
        self.logits = nn.Parameter(torch.zeros(n_components))  # (K,), pi = softmax(logits)

    def components(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """log pi (K,), means (K, d) and bounded log-variances (K, d)."""
        logvars = bound_logvar(self.raw_logvars)
        return torch.log_softmax(self.logits, dim=-1), self.means, logvars

    def log_prob_iw(self, z: torch.Tensor, k: int) -> torch.Tensor:
        """Exact log p(z) = logsumexp_k [log pi_k + log N(z; m_k, s_k^2)]; k is unused. (..., d) -> (...)."""
        log_pi, mu, logvar = self.components()
        log_joint = log_pi + log_normal_diag_components(z, mu, logvar)  # (..., K)
        return torch.logsumexp(log_joint, dim=-1)

    def sample(self, n: int) -> torch.Tensor:
        """Pick n components by their weights, then z ~ N(m_c, s_c^2): (n, d)."""
        log_pi, mu, logvar = self.components()
        c = torch.distributions.Categorical(logits=log_pi).sample((n,))  # (n,)
        return reparameterise(mu[c], logvar[c])
