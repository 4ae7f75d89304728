"""Beta schedules: constant, linear warm-up, GECO (Eq. 5) and REWO (Alg. 1, Eq. 11-12).

Every schedule keeps the running average C_hat_t = (1 - alpha) C_batch + alpha C_hat_{t-1}
(C_hat_0 = C_batch) and exposes `beta` and `trains_prior`, the latter False only in REWO's initial
phase. The constraint gap delta_t = C_hat_t - kappa^2 enters the exponent per data dimension,
delta_t / D, so that one nu serves images of any size (docs/deviations.md).
"""
import math
from collections.abc import Callable
from typing import Any


def heaviside(delta: float) -> float:
    """H(delta) = 1 for delta > 0, else 0 (Eq. 12)."""
    return 1.0 if delta > 0 else 0.0


def f_beta(beta: float, delta: float, tau: float) -> float:
    """f_beta(beta, delta; tau) = (1 - H(delta)) tanh(tau (beta - 1)) - H(delta) (Eq. 12)."""
    h = heaviside(delta)
    return (1.0 - h) * math.tanh(tau * (beta - 1.0)) - h


def rewo_update(beta: float, delta: float, nu: float, tau: float) -> float:
    """REWO: beta_t = beta_{t-1} exp(nu f_beta(beta_{t-1}, delta; tau) delta) (Eq. 11). A violated
    constraint (delta > 0) shrinks beta as GECO does; a satisfied one moves beta to 1 and holds it."""
    return beta * math.exp(nu * f_beta(beta, delta, tau) * delta)


def geco_update(beta: float, delta: float, nu: float) -> float:
    """GECO in beta = 1/lambda form: beta_t = beta_{t-1} exp(-nu delta) (Eq. 5)."""
    return beta * math.exp(-nu * delta)


class BetaSchedule:
    """Base: the running average of the reconstruction error, and beta = `beta_init` held constant."""

    def __init__(self, alpha: float = 0.99, beta_init: float = 1.0):
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"schedule alpha = {alpha} must lie in [0, 1)")
        self.alpha = alpha
        self.beta = float(beta_init)
        self.c_hat: float | None = None

    @property
    def trains_prior(self) -> bool:
        return True

    @property
    def phase(self) -> str:
        return "main"

    @property
    def settled(self) -> bool:
        """True once beta is in its final regime, so that the validation -ELBO measures the model the
        schedule is heading for: early stopping and the choice of the best epoch wait for it."""
        return True

    def update(self, c_batch: float, epoch: float) -> None:
        """Fold the batch's mean reconstruction error into C_hat; `epoch` counts finished epochs (float)."""
        self.c_hat = c_batch if self.c_hat is None else (1 - self.alpha) * c_batch + self.alpha * self.c_hat

    def state_dict(self) -> dict[str, Any]:
        return {"beta": self.beta, "c_hat": self.c_hat}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.beta, self.c_hat = state["beta"], state["c_hat"]


class Constant(BetaSchedule):
    """beta fixed; beta = 1 is the plain VAE objective."""


class LinearWarmup(BetaSchedule):
    """beta = min(1, epoch / epochs): rises linearly from 0 to 1 over `epochs` epochs, then stays 1."""

    def __init__(self, epochs: float, alpha: float = 0.99):
        if epochs <= 0:
            raise ValueError(f"warm-up epochs = {epochs} must be positive")
        super().__init__(alpha, beta_init=0.0)
        self.epochs = epochs

    @property
    def settled(self) -> bool:
        return self.beta >= 1.0

    def update(self, c_batch: float, epoch: float) -> None:
        super().update(c_batch, epoch)
        self.beta = min(1.0, epoch / self.epochs)


SETTLED_BETA = 0.99  # GECO and REWO count as settled (early stopping may count the epoch) from this beta up


class _Constrained(BetaSchedule):
    """Shared by GECO and REWO: the constraint E[C] <= kappa^2 with kappa^2 in nats per item."""

    def __init__(self, kappa: float, data_dim: int, nu: float, beta_init: float, alpha: float = 0.99):
        super().__init__(alpha, beta_init)
        self.kappa2, self.data_dim, self.nu = kappa**2, data_dim, nu

    @property
    def settled(self) -> bool:
        """While beta >= SETTLED_BETA. GECO's beta has no final value, and after its first steps it often
        collapses (1e-49 on omniglot_small) and takes thousands of steps to climb back."""
        return self.beta >= SETTLED_BETA

    def delta(self) -> float:
        """(C_hat_t - kappa^2) per data dimension."""
        return (self.c_hat - self.kappa2) / self.data_dim


class Geco(_Constrained):
    """GECO (Rezende & Viola 2018): every parameter trained from the start, beta not capped (Eq. 5)."""

    def update(self, c_batch: float, epoch: float) -> None:
        super().update(c_batch, epoch)
        self.beta = geco_update(self.beta, self.delta(), self.nu)


class Rewo(_Constrained):
    """REWO (Alg. 1): an initial phase on theta, phi until C_hat < kappa^2, then Eq. 11 on beta."""

    def __init__(self, kappa: float, data_dim: int, nu: float, tau: float, beta_init: float, alpha: float = 0.99):
        super().__init__(kappa, data_dim, nu, beta_init, alpha)
        self.tau = tau
        self.initial_phase = True

    @property
    def trains_prior(self) -> bool:
        return not self.initial_phase

    @property
    def phase(self) -> str:
        return "initial" if self.initial_phase else "main"

    @property
    def settled(self) -> bool:
        """In the main phase with beta >= SETTLED_BETA: Eq. 11 holds it at 1, approached from below."""
        return not self.initial_phase and super().settled

    def update(self, c_batch: float, epoch: float) -> None:
        super().update(c_batch, epoch)
        if self.c_hat < self.kappa2:
            self.initial_phase = False
        if not self.initial_phase:
            self.beta = rewo_update(self.beta, self.delta(), self.nu, self.tau)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "initial_phase": self.initial_phase}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.initial_phase = state["initial_phase"]


SCHEDULES: dict[str, Callable[..., BetaSchedule]] = {
    "constant": Constant,
    "warmup": LinearWarmup,
    "geco": Geco,
    "rewo": Rewo,
}


def build_schedule(args: dict[str, Any], kappa: float | None, data_dim: int) -> BetaSchedule:
    """A schedule from the method's `schedule` entry; GECO and REWO also take the dataset's kappa."""
    args = dict(args)
    name = args.pop("name")
    if name in ("geco", "rewo"):
        if kappa is None:
            raise ValueError(f"schedule {name!r} needs the dataset's `kappa`, which is not set")
        args.update(kappa=kappa, data_dim=data_dim)
    return SCHEDULES[name](**args)
