"""Training objectives: a named result of loss and its terms per batch; beta enters only here."""
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from vhp_core.model import VAE


@dataclass
class LossTerms:
    """Batch means of the reconstruction error C and the KL bound F (nats per item), and, for
    objectives that ignore beta, the bound they minimise instead."""

    rec: torch.Tensor
    kl: torch.Tensor
    neg_bound: torch.Tensor | None = None

    def loss(self, beta: float) -> torch.Tensor:
        """E[C_theta(x, z)] + beta * F(phi, Theta, Phi) (method.md §1); beta = 1 is the negative ELBO
        with the K-sample IW bound on the prior (Eq. 9)."""
        return self.rec + beta * self.kl if self.neg_bound is None else self.neg_bound


def weighted_elbo(model: VAE, x: torch.Tensor, k: int) -> LossTerms:
    """The VHP objective: one z ~ q_phi(z|x) per item, the prior's K-sample IW bound inside F."""
    rec, kl = model.rec_and_kl(x, None, k)
    return LossTerms(rec=rec.mean(), kl=kl.mean())


def iwae_bound(model: VAE, x: torch.Tensor, k: int) -> LossTerms:
    """Negative k-sample IW bound on log p(x) (Burda et al. 2016) with joint samples; beta is unused.
    rec and kl are reported from the first sample, for the log."""
    rec, kl = model.rec_and_kl(x, k, 1)  # (k, B) each, joint samples
    neg_bound = -(torch.logsumexp(-(rec + kl), dim=0) - math.log(k)).mean()
    return LossTerms(rec=rec[0].mean().detach(), kl=kl[0].mean().detach(), neg_bound=neg_bound)


OBJECTIVES: dict[str, Callable[[VAE, torch.Tensor, int], LossTerms]] = {
    "elbo": weighted_elbo,
    "iwae": iwae_bound,
}
