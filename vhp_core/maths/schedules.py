"""Beta schedules: constant, linear warm-up, GECO (Eq. 5) and REWO (Alg. 1, Eq. 11-12), for R runs at once.

The state of every run lives in tensors on the training device (float64), so a step never waits on the
host: the running average C_hat_t = (1 - alpha) C_batch + alpha C_hat_{t-1} (C_hat_0 = C_batch), log beta,
and REWO's phase. Beta is kept as log beta: GECO's beta falls to 1e-84 and below, where beta * exp(...)
would underflow to exactly 0 and never recover. The constraint gap delta_t = C_hat_t - kappa^2 enters
the exponent per data dimension, delta_t / D, so that one nu serves data of any size (docs/deviations.md).
"""
import math
from collections.abc import Sequence
from typing import Any

import torch

KINDS = ("constant", "warmup", "geco", "rewo")
SETTLED_BETA = 0.99  # GECO and REWO count as settled (early stopping may count the epoch) from this beta up


def f_beta(beta: torch.Tensor, delta: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
    """f_beta(beta, delta; tau) = (1 - H(delta)) tanh(tau (beta - 1)) - H(delta), with H(delta) = 1 for
    delta > 0, else 0 (Eq. 12)."""
    return torch.where(delta > 0, -1.0, torch.tanh(tau * (beta - 1.0)))


def rewo_log_update(log_beta: torch.Tensor, delta: torch.Tensor, nu: float | torch.Tensor,
                    tau: float | torch.Tensor) -> torch.Tensor:
    """REWO in log form: log beta_t = log beta_{t-1} + nu f_beta(beta_{t-1}, delta; tau) delta (Eq. 11). A
    violated constraint (delta > 0) shrinks beta as GECO does; a satisfied one moves beta to 1 and holds it."""
    return log_beta + nu * f_beta(log_beta.exp(), delta, tau) * delta


def geco_log_update(log_beta: torch.Tensor, delta: torch.Tensor, nu: float | torch.Tensor) -> torch.Tensor:
    """GECO in beta = 1/lambda form, in logs: log beta_t = log beta_{t-1} - nu delta (Eq. 5)."""
    return log_beta - nu * delta


def rewo_update(beta: float | torch.Tensor, delta: float | torch.Tensor, nu: float, tau: float) -> torch.Tensor:
    """beta_t of Eq. 11 from beta_{t-1} (float64): the update of Fig. 1."""
    return rewo_log_update(torch.as_tensor(beta, dtype=torch.float64).log(),
                           torch.as_tensor(delta, dtype=torch.float64), nu, tau).exp()


def geco_update(beta: float | torch.Tensor, delta: float | torch.Tensor, nu: float) -> torch.Tensor:
    """beta_t of Eq. 5 from beta_{t-1} (float64)."""
    return geco_log_update(torch.as_tensor(beta, dtype=torch.float64).log(),
                           torch.as_tensor(delta, dtype=torch.float64), nu).exp()


class Schedules:
    """The beta schedules of R runs, one entry per run (`args[r]` as in a method's `schedule` entry,
    `kappas[r]` the dataset's kappa for GECO and REWO); every property is an (R,) tensor on `device`."""

    def __init__(self, args: Sequence[dict[str, Any]], kappas: Sequence[float | None], data_dim: int,
                 device: torch.device | str = "cpu"):
        rows = [_parameters(dict(a), kappa) for a, kappa in zip(args, kappas, strict=True)]
        f64 = {"dtype": torch.float64, "device": device}
        self.kind = torch.tensor([KINDS.index(r["kind"]) for r in rows], device=device)
        self.alpha, self.nu, self.tau, self.kappa2, self.warmup_epochs = (
            torch.tensor([r[key] for r in rows], **f64) for key in ("alpha", "nu", "tau", "kappa2", "epochs"))
        self.data_dim = data_dim
        self.log_beta = torch.tensor([r["log_beta"] for r in rows], **f64)
        self.c_hat = torch.full((len(rows),), float("nan"), **f64)  # NaN until the first batch
        self.initial_phase = self.kind == KINDS.index("rewo")

    def __len__(self) -> int:
        return len(self.kind)

    def _is(self, kind: str) -> torch.Tensor:
        return self.kind == KINDS.index(kind)

    @property
    def beta(self) -> torch.Tensor:
        return self.log_beta.exp()

    @property
    def trains_prior(self) -> torch.Tensor:
        """False only in REWO's initial phase, where Theta, Phi stay as they are (Alg. 1)."""
        return ~self.initial_phase

    @property
    def settled(self) -> torch.Tensor:
        """True once beta is in its final regime, so that the validation -ELBO measures the model the
        schedule is heading for: early stopping and the choice of the best epoch wait for it. Constant:
        always; warm-up: once done; GECO: while beta >= SETTLED_BETA (its beta has no final value, and after
        its first steps it often collapses to 1e-49 and takes thousands of steps to climb back); REWO: in
        the main phase with beta >= SETTLED_BETA (Eq. 11 holds it at 1, approached from below)."""
        beta = self.beta
        return (self._is("constant") | (self._is("warmup") & (beta >= 1.0))
                | ((self._is("geco") | self._is("rewo")) & ~self.initial_phase & (beta >= SETTLED_BETA)))

    def update(self, c_batch: torch.Tensor, epoch: float) -> None:
        """Fold each run's batch mean reconstruction error (R,) into C_hat, then move beta; `epoch` counts
        finished epochs (float). In REWO's initial phase beta holds; the phase ends for good when C_hat_t <
        kappa^2, and beta is updated in that same step (Alg. 1)."""
        c = c_batch.detach().to(torch.float64)
        self.c_hat = torch.where(self.c_hat.isnan(), c, (1 - self.alpha) * c + self.alpha * self.c_hat)
        self.initial_phase = self.initial_phase & ~(self.c_hat < self.kappa2)
        delta = (self.c_hat - self.kappa2) / self.data_dim
        warm = (epoch / self.warmup_epochs).clamp(max=1.0).log()
        log_beta = torch.where(self._is("warmup"), warm, self.log_beta)
        log_beta = torch.where(self._is("geco"), geco_log_update(self.log_beta, delta, self.nu), log_beta)
        rewo = rewo_log_update(self.log_beta, delta, self.nu, self.tau)
        self.log_beta = torch.where(self._is("rewo") & ~self.initial_phase, rewo, log_beta)

    def state_dict(self, run: int) -> dict[str, Any]:
        """Run `run`'s state, on the CPU."""
        return {"log_beta": self.log_beta[run].cpu(), "c_hat": self.c_hat[run].cpu(),
                "initial_phase": self.initial_phase[run].cpu()}

    def load_state_dict(self, run: int, state: dict[str, Any]) -> None:
        for key in ("log_beta", "c_hat", "initial_phase"):
            getattr(self, key)[run] = state[key]


def _parameters(args: dict[str, Any], kappa: float | None) -> dict[str, Any]:
    """One run's schedule entry as numbers, checked; unused parameters are NaN or 1."""
    kind = args.pop("name")
    if kind not in KINDS:
        raise ValueError(f"schedule name {kind!r} is unknown; expected one of {list(KINDS)}")
    alpha = args.pop("alpha", 0.99)
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"schedule alpha = {alpha} must lie in [0, 1)")
    row = {"kind": kind, "alpha": alpha, "nu": 0.0, "tau": 0.0, "kappa2": float("inf"), "epochs": 1.0,
           "log_beta": 0.0}
    if kind in ("geco", "rewo"):
        if kappa is None:
            raise ValueError(f"schedule {kind!r} needs the dataset's `kappa`, which is not set")
        row["kappa2"], row["nu"] = kappa**2, args.pop("nu")
        if kind == "rewo":
            row["tau"] = args.pop("tau")
    if kind == "warmup":
        row["epochs"] = args.pop("epochs")
        if row["epochs"] <= 0:
            raise ValueError(f"warm-up epochs = {row['epochs']} must be positive")
        row["log_beta"] = float("-inf")  # beta = 0 before the first update
    else:
        beta_init = args.pop("beta_init", 1.0)
        if beta_init <= 0:
            raise ValueError(f"schedule beta_init = {beta_init} must be positive")
        row["log_beta"] = math.log(beta_init)
    if args:
        raise ValueError(f"schedule {kind!r} takes no {sorted(args)}")
    return row
