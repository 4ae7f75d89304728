"""Network builders and the conditional diagonal Gaussian used by every stochastic layer."""
import torch
from torch import nn

from vhp_core.distributions import log_normal_diag, reparameterise

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "softplus": nn.Softplus}

LOGVAR_BOUND = 10.0  # log-variances are squashed into (-10, 10): std in (0.0067, 148), no NaNs from exp


def mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """A fully connected net through `sizes`, with `activation` between layers and a linear output."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation {activation!r} is unknown; expected one of {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def bound_logvar(raw: torch.Tensor) -> torch.Tensor:
    """Squash an unconstrained output into a log-variance in (-LOGVAR_BOUND, LOGVAR_BOUND)."""
    return LOGVAR_BOUND * torch.tanh(raw / LOGVAR_BOUND)


class ConditionalGaussian(nn.Module):
    """N(y; mu(x), diag sigma^2(x)) with mu and log sigma^2 from one MLP: q_phi(z|x), p_Theta(z|zeta), q_Phi(zeta|z)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: list[int], activation: str):
        super().__init__()
        self.out_dim = out_dim
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
