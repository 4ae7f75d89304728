"""Network builders and the conditional diagonal Gaussian used by every stochastic layer."""
import torch
from torch import nn

from vhp_core.maths.distributions import log_normal_diag, reparameterise

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "softplus": nn.Softplus}

GATED = "gated"  # hidden layers h = (W x + b) * sigmoid(V x + c) instead of an activation after a linear map

LOGVAR_BOUND = 10.0  # log-variances are squashed into (-10, 10): std in (0.0067, 148), no NaNs from exp


class GatedLinear(nn.Module):
    """Gated dense layer of the VampPrior paper's MLPs (Dauphin et al. 2017): (W x + b) * sigmoid(V x + c).

    W and V are one Linear of twice the width, so a layer is a single matrix product."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.linear = nn.Linear(n_in, 2 * n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, gate = self.linear(x).chunk(2, dim=-1)
        return h * torch.sigmoid(gate)


def mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """A fully connected net through `sizes` with a linear output; its hidden layers are a linear map
    followed by `activation`, or gated layers if `activation` is "gated"."""
    if activation not in {*ACTIVATIONS, GATED}:
        raise ValueError(f"activation {activation!r} is unknown; expected one of {sorted({*ACTIVATIONS, GATED})}")
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1], strict=True):
        if activation == GATED:
            layers.append(GatedLinear(n_in, n_out))
        else:
            layers += [nn.Linear(n_in, n_out), ACTIVATIONS[activation]()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


def bound_logvar(raw: torch.Tensor) -> torch.Tensor:
    """Squash an unconstrained output into a log-variance in (-LOGVAR_BOUND, LOGVAR_BOUND)."""
    return LOGVAR_BOUND * torch.tanh(raw / LOGVAR_BOUND)


class ConditionalGaussian(nn.Module):
    """N(y; mu(x), diag sigma^2(x)) with mu and log sigma^2 from one MLP: q_phi(z|x), p_Theta(z|zeta), q_Phi(zeta|z)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: list[int], activation: str):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.net = mlp([in_dim, *hidden, 2 * out_dim], activation)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, raw = self.net(x).chunk(2, dim=-1)  # (..., out_dim) each
        return mu, bound_logvar(raw)

    def sample(self, x: torch.Tensor, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw y (with a leading axis of n if given) and return it with log q(y|x): ((n,) ..., D), ((n,) ...)."""
        mu, logvar = self(x)
        y = reparameterise(mu, logvar, n)
        return y, log_normal_diag(y, mu, logvar)

    def log_prob(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        mu, logvar = self(x)
        return log_normal_diag(y, mu, logvar)
