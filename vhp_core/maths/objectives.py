"""Training objectives: how many codes z each item gets, how many importance samples the prior's bound
takes, and the batch loss from the per-sample reconstruction error C and KL bound F; beta enters only here
(docs/method.md §2, Eq. 9)."""
import math
from dataclasses import dataclass

import torch

from vhp_core.maths.model import VAE
from vhp_core.registry import Registry

OBJECTIVES: Registry["Objective"] = Registry("objectives")
"""Training objectives by name: `OBJECTIVES.register("name")(objective)`."""


@dataclass(frozen=True)
class Objective:
    """`joint`: False for the VHP objective (one z ~ q_phi(z|x) per item, the prior's K-sample IW bound
    inside F, Eq. 9); True for the k-sample IW bound on log p(x) with joint samples (Burda et al. 2016),
    which ignores beta."""

    joint: bool

    def sample_counts(self, k: int) -> tuple[int | None, int]:
        """(codes per item, or None for one without a sample axis; importance samples of the prior)."""
        return (k, 1) if self.joint else (None, k)

    def loss(self, rec: torch.Tensor, kl: torch.Tensor, beta: float | torch.Tensor) -> torch.Tensor:
        """E[C_theta(x, z)] + beta F(phi, Theta, Phi), the Lagrangian in beta = 1/lambda form (beta = 1 is
        the negative ELBO with the K-sample IW bound on the prior, Eq. 9), or the negative k-sample IW
        bound -mean log (1/k) sum_s exp(-(C_s + F_s)). rec, kl: ((k,) B)."""
        if not self.joint:
            return rec.mean() + beta * kl.mean()
        return -(torch.logsumexp(-(rec + kl), dim=0) - math.log(rec.shape[0])).mean()

    def terms(self, model: VAE, x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample C and F, ((k,) B) each, of a batch under this objective's sample counts."""
        return model.rec_and_kl(x, *self.sample_counts(k))


def first_sample_mean(t: torch.Tensor) -> torch.Tensor:
    """Batch mean of the first sample of a ((k,) B) tensor: the C and F an objective reports and REWO and
    GECO track (for the IW bound, one of its k joint samples)."""
    return t.reshape(-1, t.shape[-1])[0].mean()


weighted_elbo = OBJECTIVES.register("elbo")(Objective(joint=False))
iwae_bound = OBJECTIVES.register("iwae")(Objective(joint=True))
