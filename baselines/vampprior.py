"""VampPrior (Tomczak & Welling 2018): p(z) = (1/C) sum_c q_phi(z | u_c), C learned pseudo-inputs u_c
(docs/method.md §4).

The prior shares the model's encoder q_phi(z|x) (the same object, not a copy): its own parameters are
the pseudo-inputs only, so REWO's initial phase, which freezes prior parameters, never freezes the encoder.
"""
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vhp_core.maths.distributions import log_normal_diag_components, reparameterise
from vhp_core.maths.networks import ConditionalGaussian
from vhp_core.maths.priors import PRIORS, Prior


@PRIORS.register("vampprior")
class VampPrior(Prior):
    """Mixture of the encoder's posteriors at C pseudo-inputs, with uniform weights 1/C as in the paper.

    Pseudo-inputs follow the reference code (jmtomczak/vae_vampprior, `add_pseudoinputs`): free
    parameters drawn from N(init_mean, init_std^2), seen by the encoder through hardtanh onto `bounds`
    (default [0, 1], the range of binary and grey-level images; reference init N(0.05, 0.01^2) for MNIST
    and OMNIGLOT). `bounds=None` leaves them unclamped, for continuous data such as mocap. A pseudo-input
    coordinate outside the bounds gets no gradient, hence init_mean must lie strictly inside them.
    There is no data-based init: the prior is built before any data is seen.
    """

    def __init__(self, latent_dim: int, encoder: ConditionalGaussian, n_components: int = 500,
                 init_mean: float = 0.05, init_std: float = 0.01, bounds: Sequence[float] | None = (0.0, 1.0)):
        super().__init__(latent_dim)
        if encoder.out_dim != latent_dim:
            raise ValueError(f"encoder gives {encoder.out_dim}-dim z, the prior expects latent_dim = {latent_dim}")
        if n_components < 1:
            raise ValueError(f"n_components = {n_components} must be at least 1")
        if init_std < 0:
            raise ValueError(f"init_std = {init_std} must be non-negative")
        if bounds is not None and not (len(bounds) == 2 and bounds[0] < init_mean < bounds[1]):
            raise ValueError(f"bounds = {list(bounds)} must be [low, high] with low < init_mean = {init_mean} < high")
        self.bounds = None if bounds is None else (float(bounds[0]), float(bounds[1]))
        self.n_components = n_components
        self.raw_inputs = nn.Parameter(init_mean + init_std * torch.randn(n_components, encoder.in_dim))  # (C, D)
        self._encoder = (encoder,)  # a tuple hides it from nn.Module: no second copy in parameters or state dict
        self._cache: tuple[tuple, tuple[torch.Tensor, torch.Tensor]] | None = None  # (key, components)

    @classmethod
    def from_config(cls, latent_dim: int, args: dict[str, Any], encoder: nn.Module) -> "VampPrior":
        return cls(latent_dim, encoder, **args)

    @property
    def encoder(self) -> ConditionalGaussian:
        """The model's own q_phi(z|x); owned and moved between devices by the model, not by the prior."""
        return self._encoder[0]

    def pseudo_inputs(self) -> torch.Tensor:
        """u_c as the encoder sees them, (C, D)."""
        if self.bounds is None:
            return self.raw_inputs
        return F.hardtanh(self.raw_inputs, *self.bounds)

    def components(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and log-variances of q_phi(z | u_c), (C, d) each.

        Without gradients (evaluation, NLL) they are computed once and reused until a pseudo-input or an
        encoder weight changes: an in-place update (optimiser step, load_state_dict) bumps the tensor's
        version, a move to another device changes its storage. The NLL's chunks re-encode nothing."""
        if torch.is_grad_enabled() or torch._C._functorch.is_batchedtensor(self.raw_inputs):
            return self.encoder(self.pseudo_inputs())  # under vmap (packed training) there is no storage to key on
        key = tuple((p._version, p.data_ptr()) for p in (self.raw_inputs, *self.encoder.parameters()))
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.encoder(self.pseudo_inputs()))
        return self._cache[1]

    def log_prob_iw(self, z: torch.Tensor, k: int) -> torch.Tensor:
        """Exact log p(z) = logsumexp_c log q_phi(z|u_c) - log C; k is unused. (..., d) -> (...)."""
        mu, logvar = self.components()  # (C, d) each
        log_q = log_normal_diag_components(z, mu, logvar)  # (..., C)
        return torch.logsumexp(log_q, dim=-1) - math.log(self.n_components)

    def sample(self, n: int) -> torch.Tensor:
        """Pick n components uniformly, then z ~ q_phi(z | u_c): (n, d)."""
        mu, logvar = self.components()  # (C, d) each
        c = torch.randint(self.n_components, (n,), device=mu.device)  # (n,)
        return reparameterise(mu[c], logvar[c])
