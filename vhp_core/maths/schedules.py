"""Beta schedules: constant, linear warm-up, GECO (Eq. 5) and REWO (Alg. 1, Eq. 11-12), for R runs at once
(docs/method.md §3).

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

from vhp_core.registry import Registry

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


class Schedule:
    """A kind of beta schedule, registered by name in SCHEDULES: the keys of its config entry (with their
    defaults; None marks a required key, every value a positive number), whether it needs the dataset's
    kappa, and its step for every run of a pack at once. A step reads the pack's (R,) tensors and returns
    the new log beta of every run; the pack keeps it where the run is of this kind, so a step may compute
    nonsense (NaN parameters) for the other runs."""

    parameters: dict[str, float | None] = {"beta_init": 1.0}
    needs_kappa = False  # True: the step uses the constraint E[C] <= kappa^2 (the run's kappa2)
    initial_phase = False  # True: the run starts in REWO's initial phase, with the prior held (Alg. 1)

    def log_beta_init(self, p: dict[str, float]) -> float:
        return math.log(p["beta_init"])

    def step(self, s: "Schedules", delta: torch.Tensor, epoch: float) -> torch.Tensor:
        return s.log_beta

    def settled(self, s: "Schedules") -> torch.Tensor:
        """Where beta is in its final regime (see Schedules.settled)."""
        return torch.ones_like(s.initial_phase)


SCHEDULES: Registry[type[Schedule]] = Registry("schedules")
"""Beta schedules by name: `@SCHEDULES.register("name")` on a subclass of Schedule."""


@SCHEDULES.register("constant")
class Constant(Schedule):
    """beta = beta_init throughout (1: the plain VAE objective)."""


@SCHEDULES.register("warmup")
class WarmUp(Schedule):
    """Linear warm-up: beta = min(1, epoch / epochs), 0 before the first update."""

    parameters = {"epochs": None}

    def log_beta_init(self, p: dict[str, float]) -> float:
        return float("-inf")

    def step(self, s: "Schedules", delta: torch.Tensor, epoch: float) -> torch.Tensor:
        return (epoch / s.params["epochs"]).clamp(max=1.0).log()

    def settled(self, s: "Schedules") -> torch.Tensor:
        return s.beta >= 1.0


@SCHEDULES.register("geco")
class Geco(Schedule):
    """GECO (Eq. 5): beta falls while the constraint is violated and rises while it holds, without bound."""

    parameters = {"nu": None, "beta_init": 1.0}
    needs_kappa = True

    def step(self, s: "Schedules", delta: torch.Tensor, epoch: float) -> torch.Tensor:
        return geco_log_update(s.log_beta, delta, s.params["nu"])

    def settled(self, s: "Schedules") -> torch.Tensor:
        return s.beta >= SETTLED_BETA


@SCHEDULES.register("rewo")
class Rewo(Schedule):
    """REWO (Alg. 1, Eq. 11-12): beta held in the initial phase, then moved to 1 once the constraint holds."""

    parameters = {"nu": None, "tau": None, "beta_init": 1.0}
    needs_kappa = True
    initial_phase = True

    def step(self, s: "Schedules", delta: torch.Tensor, epoch: float) -> torch.Tensor:
        rewo = rewo_log_update(s.log_beta, delta, s.params["nu"], s.params["tau"])
        return torch.where(s.initial_phase, s.log_beta, rewo)

    def settled(self, s: "Schedules") -> torch.Tensor:
        return ~s.initial_phase & (s.beta >= SETTLED_BETA)


class Schedules:
    """The beta schedules of R runs, one entry per run (`args[r]` as in a method's `schedule` entry,
    `kappa2s[r]` the dataset's kappa^2 in nats for GECO and REWO); every property is an (R,) tensor on `device`."""

    def __init__(self, args: Sequence[dict[str, Any]], kappa2s: Sequence[float | None], data_dim: int,
                 device: torch.device | str = "cpu"):
        rows = [parse(dict(a), kappa2) for a, kappa2 in zip(args, kappa2s, strict=True)]
        f64 = {"dtype": torch.float64, "device": device}
        names = [r.pop("name") for r in rows]
        self.kinds = {name: (SCHEDULES[name](), torch.tensor([n == name for n in names], device=device))
                      for name in dict.fromkeys(names)}
        self.alpha, self.kappa2, self.log_beta = (torch.tensor([r.pop(key) for r in rows], **f64)
                                                  for key in ("alpha", "kappa2", "log_beta"))
        keys = dict.fromkeys(k for r in rows for k in r)
        self.params = {k: torch.tensor([r.get(k, float("nan")) for r in rows], **f64) for k in keys}
        self.data_dim = data_dim
        self.c_hat = torch.full((len(rows),), float("nan"), **f64)  # NaN until the first batch
        self.initial_phase = torch.tensor([SCHEDULES[n].initial_phase for n in names], device=device)

    def __len__(self) -> int:
        return len(self.alpha)

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
        out = torch.zeros_like(self.initial_phase)
        for kind, mask in self.kinds.values():
            out = out | (mask & kind.settled(self))
        return out

    def update(self, c_batch: torch.Tensor, epoch: float) -> None:
        """Fold each run's batch mean reconstruction error (R,) into C_hat, then move beta; `epoch` counts
        finished epochs (float). In REWO's initial phase beta holds; the phase ends for good when C_hat_t <
        kappa^2, and beta is updated in that same step (Alg. 1)."""
        c = c_batch.detach().to(torch.float64)
        self.c_hat = torch.where(self.c_hat.isnan(), c, (1 - self.alpha) * c + self.alpha * self.c_hat)
        self.initial_phase = self.initial_phase & ~(self.c_hat < self.kappa2)
        delta = (self.c_hat - self.kappa2) / self.data_dim
        log_beta = self.log_beta
        for kind, mask in self.kinds.values():
            log_beta = torch.where(mask, kind.step(self, delta, epoch), log_beta)
        self.log_beta = log_beta

    def state_dict(self, run: int) -> dict[str, Any]:
        """Run `run`'s state, on the CPU."""
        return {"log_beta": self.log_beta[run].cpu(), "c_hat": self.c_hat[run].cpu(),
                "initial_phase": self.initial_phase[run].cpu()}

    def load_state_dict(self, run: int, state: dict[str, Any]) -> None:
        for key in ("log_beta", "c_hat", "initial_phase"):
            getattr(self, key)[run] = state[key]


def parse(args: dict[str, Any], kappa2: float | None) -> dict[str, Any]:
    """One run's schedule entry (`name`, `alpha` and the kind's own keys) as numbers, checked, with
    `kappa2` (inf for a kind without a constraint) and the starting `log_beta`; ValueError names a bad key."""
    args = dict(args)
    name = args.pop("name")
    kind = SCHEDULES[name]()
    alpha = args.pop("alpha", 0.99)
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"schedule alpha = {alpha} must lie in [0, 1)")
    unknown = sorted(set(args) - set(kind.parameters))
    if unknown:
        raise ValueError(f"schedule {name!r} takes no {unknown}; its keys: {sorted(kind.parameters)} and alpha")
    row = {**{k: v for k, v in kind.parameters.items() if v is not None}, **args}
    missing = sorted(set(kind.parameters) - set(row))
    if missing:
        raise ValueError(f"schedule {name!r} needs {missing}")
    for key, value in row.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"schedule {name!r}: {key} = {value!r} must be a positive number")
    if kind.needs_kappa and kappa2 is None:
        raise ValueError(f"schedule {name!r} needs the dataset's `kappa2`, which is not set")
    return {**row, "name": name, "alpha": alpha, "kappa2": kappa2 if kind.needs_kappa else float("inf"),
            "log_beta": kind.log_beta_init(row)}
