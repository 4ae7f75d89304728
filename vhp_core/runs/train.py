"""One training loop for every method, for one run or a pack of R runs trained as one batched model
(`vhp_core.runs.packed`): Adam on minibatches, a beta schedule, a CSV log every `log_every` steps,
checkpoints on a wall-clock interval, at the end and on SIGTERM, exact resume from them, and optional
early stopping on the validation -ELBO. Packing is a speed choice: a run trains to the same numbers
in a pack as alone.

The inner loop never waits on the host: losses, C_hat, beta, REWO's phase and the NaN check stay
tensors on the device, and the host reads them back in one transfer per log point.

In-progress state lives in `run_dir/work/`; the finished outputs (model.pt, train_log.csv,
epochs.csv, snapshots.npz) are published atomically when the run ends, so a partial run never
overwrites or masquerades as a finished one.
"""
import csv
import functools
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from vhp_core import datasets
from vhp_core.datasets import Splits
from vhp_core.devices import (
    compiler_works,
    global_rng_state,
    make_generator,
    resolve_device,
    set_global_rng_state,
    tune_cpu_process,
)
from vhp_core.io import atomic_path, require_writable
from vhp_core.maths.model import VAE, ModelConfig
from vhp_core.maths.nll import importance_sampled_nll, nll_subset, nll_summary
from vhp_core.maths.objectives import OBJECTIVES, Objective, first_sample_mean
from vhp_core.maths.schedules import Schedules
from vhp_core.plugins import import_plugins
from vhp_core.runs import checkpoints
from vhp_core.runs.config import check_data_sizes
from vhp_core.runs.lock import RunLock
from vhp_core.runs.packed import PackedAdam, PackedModel

log = logging.getLogger(__name__)

LOG_FIELDS = ["step", "epoch", "loss", "rec", "kl", "c_hat", "beta", "phase"]
"""train_log.csv: one row per `log_every` steps; loss, rec, kl are means over the steps since the last row."""
EPOCH_FIELDS = ["epoch", "step", "train_loss", "valid_neg_elbo", "beta", "seconds"]
CURVE_FIELDS = ["epoch", "step", "nll", "nll_stderr", "samples", "n_items", "seconds"]
CURVE_SEED = 0  # the draws of every curve point of every run: differences between points are the model's
RUNTIME_DEFAULTS = {"log_every": 100, "checkpoint_minutes": 10.0, "compile": False}
"""How a run is carried out, never what it computes: changing them resumes a checkpoint instead of restarting."""


class NonFiniteLossError(FloatingPointError):
    """The loss of a run became NaN or infinite; its last good checkpoint is kept, the other runs go on."""


class Interrupted(RuntimeError):
    """SIGTERM arrived (a cluster's time limit): every live run was checkpointed; a rerun resumes."""


def build_model(spec: dict[str, Any], data_dim: int) -> VAE:
    """The run's VAE, after importing the config's plugins that may define its parts."""
    import_plugins(spec.get("plugins", []))
    m = spec["model"]
    cfg = ModelConfig(data_dim=data_dim, latent_dim=m["latent_dim"], hidden=m["hidden"],
                      activation=m["activation"], likelihood=m["likelihood"],
                      prior=spec["prior"], prior_args=spec["prior_args"])
    return VAE(cfg)


def load_model(path: str | Path, device: str | torch.device = "auto") -> tuple[VAE, dict[str, Any]]:
    """Rebuild a trained model from `model.pt` alone on `device` ('auto': CUDA when present); returns
    (model in eval mode, the rest of the file: its run `spec`, `data_dim` and the training `summary`)."""
    device = resolve_device(device) if isinstance(device, str) else device
    state = checkpoints.load(path, device, redo=f"delete {Path(path).parent} and train that run again")
    model = build_model(state["spec"], state["data_dim"])
    model.load_state_dict(state.pop("model"))
    return model.to(device).eval(), state


@torch.no_grad()
def neg_elbo(model: VAE, x: torch.Tensor, k: int, batch_size: int = 1000) -> float:
    """Mean -ELBO (beta = 1, K-sample IW prior bound) over x, in nats per item."""
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for i in range(0, len(x), batch_size):
        total += _neg_elbo_sum(model, x[i:i + batch_size], k=k)
    model.train()
    return total.item() / len(x)


def lr_at(epoch: int, lr: float, stages: list[list[float]] | None) -> float:
    """Learning rate of a 0-based epoch: `lr`, or stage by stage from [[epochs, lr], ...] (Burda et al.
    2016: 3^i epochs at 1e-3 * 10^(-i/7), i = 0..7), the last stage's rate after the stages end."""
    if not stages:
        return lr
    end = 0
    for n_epochs, stage_lr in stages:
        end += n_epochs
        if epoch < end:
            return stage_lr
    return stages[-1][1]


PER_RUN_TRAINING = ("lr", "lr_stages", "early_stopping_patience", "snapshot_steps", "seed_offsets")
"""Training settings that may differ between the runs of one pack (each run keeps its own)."""


def draw_seed(spec: dict[str, Any], draw: str) -> int:
    """The seed of one of a run's two draws, `weights` (its initial weights) or `stream` (data order,
    binarisation and every sample's noise): the run's seed plus the offset `training/seed_offsets` gives it."""
    return spec["seed"] + spec["training"].get("seed_offsets", {}).get(draw, 0)


def pack_key(spec: dict[str, Any]) -> str:
    """Runs whose keys agree can be trained as one pack: same data, architecture, objective, batches and
    epochs; seeds, schedules, kappa^2, learning rates and early stopping may differ."""
    training = {k: v for k, v in spec["training"].items() if k not in PER_RUN_TRAINING}
    same = {k: v for k, v in spec.items() if k not in ("seed", "method", "schedule", "kappa2", "training", "runtime")}
    return repr(sorted({**same, "training": sorted(training.items())}.items()))


def _identity(spec: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint must have been written for to be resumed: the spec without its runtime and
    learning-curve settings (neither changes what is trained)."""
    return {k: v for k, v in spec.items() if k not in ("runtime", "curves")}


# ---------------------------------------------------------------------------------------------------
# The per-run functions mapped over a pack. Module level, so that their draw plans are cached.

def _reconstruct(model: VAE, x: torch.Tensor, *, samples: int | None) -> tuple[torch.Tensor, ...]:
    z, log_q, rec, mu, logvar = model.reconstruct(x, samples)
    return z, log_q, rec, mu.detach(), (0.5 * logvar).exp().detach()


def _data_init(model: VAE, mu: torch.Tensor, std: torch.Tensor) -> dict[str, torch.Tensor]:
    return model.prior.data_init(mu, std)


def _loss(model: VAE, z: torch.Tensor, log_q: torch.Tensor, rec: torch.Tensor, beta: torch.Tensor, *,
          prior_k: int, objective: Objective) -> tuple[torch.Tensor, torch.Tensor]:
    kl = model.kl(z, log_q, prior_k)
    return objective.loss(rec, kl, beta), first_sample_mean(kl).detach()


def _neg_elbo_sum(model: VAE, x: torch.Tensor, *, k: int) -> torch.Tensor:
    rec, kl = model.rec_and_kl(x, None, k)
    return (rec + kl).sum()


# ---------------------------------------------------------------------------------------------------

@dataclass
class _Run:
    """Host-side bookkeeping of one run of a pack."""

    spec: dict[str, Any]
    run_dir: Path
    generator: torch.Generator
    epoch: int = 0  # finished epochs
    step: int = 0
    position: int = 0  # batches done in the current epoch
    order: torch.Tensor | None = None  # the current epoch's order of the training items
    seconds: float = 0.0
    epoch_loss: float = 0.0  # sum of the current epoch's step losses
    best: dict[str, Any] = field(default_factory=lambda: {"valid": math.inf, "epoch": 0, "model": None})
    checkpoint: dict[str, Any] | None = None
    settled: bool = False  # the schedule's state at the last epoch end (early stopping waits for it)
    failure: str | None = None
    done: bool = False
    summary: dict[str, Any] | None = None
    lock: RunLock | None = None

    @property
    def name(self) -> str:
        return f"{self.spec['dataset']}/{self.spec['method']}/seed{self.spec['seed']}"

    @property
    def work(self) -> Path:
        return self.run_dir / "work"

    @property
    def ckpt_path(self) -> Path:
        return self.work / "checkpoint.pt"

    def resume_point(self) -> tuple[int, int, int]:
        return self.epoch, self.step, self.position


def _open_run(spec: dict[str, Any], run_dir: Path, device: torch.device) -> _Run:
    """A run's state from its checkpoint, or a fresh one (a checkpoint of another config is set aside)."""
    run = _Run(spec, run_dir, make_generator(device, draw_seed(spec, "stream")))
    run.work.mkdir(parents=True, exist_ok=True)
    if run.ckpt_path.exists():
        state = checkpoints.load(run.ckpt_path, "cpu", redo=f"delete {run.ckpt_path} to start that run over")
        if state["spec"] != _identity(spec):
            stale = run.ckpt_path.with_suffix(".stale.pt")
            log.warning("%s was written for a different config; moved to %s, starting over", run.ckpt_path, stale)
            run.ckpt_path.replace(stale)
            for f in (run.work / "train_log.csv", run.work / "epochs.csv", run.work / "curve.csv",
                      *(run.work / "snapshots").glob("*.npz")):
                f.unlink(missing_ok=True)
        else:
            run.checkpoint = state
            run.epoch, run.step, run.position = state["epoch"], state["step"], state["position"]
            run.order, run.seconds, run.best = state["order"], state["seconds"], state["best"]
            run.epoch_loss, run.settled = state["epoch_loss"], state["settled"]
            log.info("resuming %s at epoch %d (step %d)", run.name, run.epoch, run.step)
    _truncate_csv(run.work / "train_log.csv", LOG_FIELDS, lambda row: int(row["step"]) < run.step)
    _truncate_csv(run.work / "epochs.csv", EPOCH_FIELDS, lambda row: int(row["epoch"]) <= run.epoch)
    _truncate_csv(run.work / "curve.csv", CURVE_FIELDS, lambda row: int(row["epoch"]) <= run.epoch)
    return run


def fit(spec: dict[str, Any], splits: Splits, run_dir: str | Path, progress: bool = True) -> dict[str, Any]:
    """Train one run to `spec['training']['epochs']`, resuming from run_dir/work/checkpoint.pt if any;
    returns a summary of the finished run."""
    return fit_pack([spec], splits, [run_dir], progress=progress)[0]


def fit_pack(specs: Sequence[dict[str, Any]], splits: Splits, run_dirs: Sequence[str | Path],
             progress: bool = True) -> list[dict[str, Any]]:
    """Train runs that share a `pack_key` as one batched model; returns their summaries in order. Runs
    resume from their own checkpoints (runs at different points train as separate packs). A run whose
    loss turns non-finite stops alone: the others finish and are published, then NonFiniteLossError names it."""
    keys = {pack_key(s) for s in specs}
    if len(keys) > 1:
        raise ValueError(f"runs {[s['method'] + '/seed' + str(s['seed']) for s in specs]} differ in more than "
                         f"seed, schedule, kappa^2, learning rate and early stopping: they cannot share a pack")
    for spec in specs:
        check_data_sizes(spec, len(splits.train), len(splits.test))
    device = resolve_device(specs[0]["device"])
    torch.set_num_threads(specs[0]["torch_threads"])
    if device.type == "cpu":
        tune_cpu_process()
    with ExitStack() as held, _SigtermFlag() as sigterm:
        locks = [held.enter_context(RunLock(d)) for d in run_dirs]  # one training per run folder at a time
        runs = [_open_run(s, Path(d), device) for s, d in zip(specs, run_dirs, strict=True)]
        groups: dict[tuple[int, int, int], list[_Run]] = {}
        for run, lock in zip(runs, locks, strict=True):
            run.lock = lock
            groups.setdefault(run.resume_point(), []).append(run)
        for group in groups.values():
            _Trainer(group, splits, device, sigterm, progress).train()
    failed = [run.failure for run in runs if run.failure]
    if failed:
        raise NonFiniteLossError("; ".join(failed))
    return [run.summary for run in runs]


class _SigtermFlag:
    """Turns SIGTERM into a flag the loop checks at its log points (main thread only)."""

    def __init__(self) -> None:
        self.raised = False
        self._previous: Any = None

    def __enter__(self) -> "_SigtermFlag":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.raised = True

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


class _Trainer:
    """The loop over epochs and steps for runs that start from the same point."""

    def __init__(self, runs: list[_Run], splits: Splits, device: torch.device, sigterm: _SigtermFlag,
                 progress: bool):
        self.runs, self.splits, self.device, self.sigterm, self.progress = runs, splits, device, sigterm, progress
        spec = runs[0].spec
        self.train_cfg = spec["training"]
        self.runtime = {**RUNTIME_DEFAULTS, **spec.get("runtime", {})}
        models = []
        for run in runs:
            torch.manual_seed(draw_seed(run.spec, "weights"))
            models.append(build_model(run.spec, splits.data_dim).to(device))
        self.packed = PackedModel(models)
        self.adam = PackedAdam(self.packed, [_lr(run, run.epoch) for run in runs])
        self.schedules = Schedules([r.spec["schedule"] for r in runs], [r.spec["kappa2"] for r in runs],
                                   splits.data_dim, device)
        for i, run in enumerate(runs):
            if run.checkpoint is not None:
                state = run.checkpoint
                self.packed.load_state_dict(i, state["model"])
                self.adam.load_state_dict(i, state["optimizer"])
                self.schedules.load_state_dict(i, state["schedule"])
                run.generator.set_state(state["generator"])
                set_global_rng_state(state["rng"], device)
                run.checkpoint = None
        # the loss call (the prior's bound) compiled: measured on the CPU only; on CUDA, compiling inside the
        # first step would meet the GPU check's guard against host syncs, and no GPU run has measured it
        self.compile = self.runtime["compile"] and device.type == "cpu" and compiler_works(device)
        objective = OBJECTIVES[spec["objective"]]
        samples, prior_k = objective.sample_counts(spec["k"])
        self.reconstruct = functools.partial(_reconstruct, samples=samples)
        self.loss = functools.partial(_loss, prior_k=prior_k, objective=objective)
        self.valid_sum = functools.partial(_neg_elbo_sum, k=spec["k"])
        self.init_prior = "prior.initialised" in self.packed.buffers  # a data-initialised prior: until all are done
        self.x_train = splits.train[:self.train_cfg.get("train_items")].to(device)
        self.x_valid = splits.valid.to(device)
        self.batch = self.train_cfg["batch_size"]
        self.steps_per_epoch = math.ceil(len(self.x_train) / self.batch)
        n_snap = self.train_cfg["snapshot_points"]
        self.snap_x = splits.test[:n_snap].to(device)
        self.snap_labels = None if splits.labels is None else splits.labels["test"][:n_snap]
        self.curves = spec.get("curves")
        if self.curves:
            self.curve_x = splits.test[nll_subset(len(splits.test), self.curves["n_items"])].to(device)
        r = len(runs)
        f64 = {"dtype": torch.float64, "device": device}
        self.window = torch.zeros(r, 3, **f64)  # sums of loss, rec, kl since the last log row
        self.window_steps = 0
        self.epoch_loss = torch.tensor([run.epoch_loss for run in runs], **f64)
        self.fail_step = torch.full((r,), -1, dtype=torch.long, device=device)
        self.fail_terms = torch.zeros(r, 4, **f64)  # loss, rec, kl, beta at the first non-finite loss
        self.last_checkpoint = time.monotonic()

    @property
    def live(self) -> list[int]:
        return [i for i, run in enumerate(self.runs) if not run.done and run.failure is None]

    def train(self) -> None:
        epochs = self.train_cfg["epochs"]
        first = self.runs[0]
        total = epochs * self.steps_per_epoch
        bar = tqdm(total=total, initial=first.step, disable=not self.progress, mininterval=2.0,
                   desc=first.name if len(self.runs) == 1 else f"{len(self.runs)} runs of {first.spec['dataset']}")
        for i, run in enumerate(self.runs):
            self._set_lr(i, run.epoch)
            if run.epoch >= epochs or self._stops_early(i, run.epoch):
                self._finish(i)
        while self.live and first.epoch < epochs:
            self._epoch(bar)
        for i in self.live:
            self._finish(i)
        bar.close()

    def _set_lr(self, i: int, epoch: int) -> None:
        self.adam.set_lr(i, _lr(self.runs[i], epoch))

    def _epoch(self, bar: tqdm) -> None:
        t0 = time.perf_counter()
        runs = self.runs
        epoch = runs[0].epoch
        if runs[0].position == 0:
            for run in runs:
                run.order = torch.randperm(len(self.x_train), generator=run.generator, device=self.device)
        orders = torch.stack([run.order.to(self.device) for run in runs])  # (R, N)
        log_every = self.runtime["log_every"]
        for b in range(runs[0].position, self.steps_per_epoch):
            self._snapshots(runs[0].step)
            idx = orders[:, b * self.batch:(b + 1) * self.batch]
            self._step(self._minibatch(idx), epoch + b / self.steps_per_epoch)
            for run in runs:
                run.step += 1
                run.position = b + 1
            if self.window_steps >= log_every and b + 1 < self.steps_per_epoch:
                self._log_point(bar, time.perf_counter() - t0)
                t0 = time.perf_counter()
                if self.sigterm.raised:
                    self._stop_on_sigterm()
        valid = self._validation()
        for run in runs:
            run.epoch, run.position, run.order = epoch + 1, 0, None
        self._log_point(bar, time.perf_counter() - t0, valid)
        if self.curves and (epoch + 1) % self.curves["every_epochs"] == 0:
            self._curve_point()
        if self.sigterm.raised:
            self._stop_on_sigterm()
        if time.monotonic() - self.last_checkpoint >= 60 * self.runtime["checkpoint_minutes"]:
            self._checkpoint_all()
        for i in self.live:
            self._set_lr(i, epoch + 1)
            if self._stops_early(i, epoch + 1):
                self._finish(i)

    def _stop_on_sigterm(self) -> None:
        self._checkpoint_all()
        raise Interrupted(f"SIGTERM: checkpoints written for {', '.join(r.name for r in self.runs)}; rerun to resume")

    def _minibatch(self, idx: torch.Tensor) -> torch.Tensor:
        """The runs' minibatches (R, B, D); dynamic binarisation draws each pixel from Bernoulli(grey level)
        anew for every minibatch, from the run's own generator."""
        x = self.x_train[idx]
        if self.splits.dynamic_binarization:
            x = torch.stack([torch.bernoulli(x[i], generator=run.generator) for i, run in enumerate(self.runs)])
        return x

    def _step(self, x: torch.Tensor, epoch: float) -> None:
        """One update of every run in the order of Alg. 1: forward, update C_hat and beta, then step the
        optimiser (on theta, phi only while REWO is in its initial phase). A prior that wants a
        data-dependent initialisation gets it from the batch's posterior just before its first update."""
        gens = [run.generator for run in self.runs]
        z, log_q, rec, mu, std = self.packed.call(self.reconstruct, [x], gens)
        r = len(self.runs)
        c_batch = rec.detach().reshape(r, -1, rec.shape[-1])[:, 0].mean(-1)
        self.schedules.update(c_batch, epoch)
        trains_prior = self.schedules.trains_prior
        if self.init_prior:
            self._initialise_prior(mu, std, trains_prior, gens)
        beta = self.schedules.beta
        loss, kl = self.packed.call(self.loss, [z, log_q, rec, beta.float()], gens, compiled=self.compile)
        self.adam.zero_grad()
        loss.sum().backward()
        self.adam.step(trains_prior)
        terms = torch.stack([loss.detach(), c_batch.float(), kl], dim=1).double()
        bad = ~torch.isfinite(terms[:, 0]) & (self.fail_step < 0)
        step = self.runs[0].step
        self.fail_step = torch.where(bad, step, self.fail_step)
        self.fail_terms = torch.where(bad[:, None], torch.cat([terms, beta[:, None]], dim=1), self.fail_terms)
        self.window += terms
        self.epoch_loss += terms[:, 0]
        self.window_steps += 1

    @torch.no_grad()
    def _initialise_prior(self, mu: torch.Tensor, std: torch.Tensor, trains_prior: torch.Tensor,
                          gens: list[torch.Generator]) -> None:
        flag = self.packed.buffers["prior.initialised"]
        due = trains_prior & ~flag
        for name, value in self.packed.call(_data_init, [mu, std], gens).items():
            # .data: the parameters share the flat buffer's version counter, and the graph of this step's
            # reconstruction (which never reads the prior) must not look modified
            param = self.packed.params[f"prior.{name}"].data
            param.copy_(torch.where(due.view(-1, *[1] * (param.dim() - 1)), value, param))
        flag.logical_or_(due)

    @torch.no_grad()
    def _validation(self) -> torch.Tensor:
        """Each run's mean -ELBO (beta = 1) on the validation split, (R,), its noise from the run's generator."""
        r = len(self.runs)
        total = torch.zeros(r, dtype=torch.float64, device=self.device)
        gens = [run.generator for run in self.runs]
        for i in range(0, len(self.x_valid), 1000):
            chunk = self.x_valid[i:i + 1000]
            total += self.packed.call(self.valid_sum, [chunk.expand(r, *chunk.shape)], gens).double()
        return total / len(self.x_valid)

    def _log_point(self, bar: tqdm, seconds: float, valid: torch.Tensor | None = None) -> None:
        """Read every run's numbers back in one transfer; write the log rows; name runs that diverged."""
        r = len(self.runs)
        s = self.schedules
        parts = [self.window.flatten(), s.c_hat, s.log_beta, s.initial_phase.double(), s.settled.double(),
                 self.fail_step.double(), self.fail_terms.flatten(), self.epoch_loss]
        if valid is not None:
            parts.append(valid)
        if self.init_prior:
            parts.append(self.packed.buffers["prior.initialised"].double())
        host = torch.cat(parts).cpu().numpy()
        for run in self.runs:
            run.lock.refresh()
        if self.init_prior:
            self.init_prior = not host[-r:].all()
        window = host[:3 * r].reshape(r, 3) / max(self.window_steps, 1)
        c_hat, log_beta, initial, settled, fail_step = (host[3 * r + j * r:3 * r + (j + 1) * r] for j in range(5))
        fail_terms = host[8 * r:12 * r].reshape(r, 4)
        epoch_loss = host[12 * r:13 * r]
        beta = np.exp(log_beta)
        for i in self.live:
            run = self.runs[i]
            run.seconds += seconds
            if fail_step[i] >= 0:
                self._fail(i, int(fail_step[i]), fail_terms[i])
                continue
            if self.window_steps:
                _append_csv(run.work / "train_log.csv", LOG_FIELDS, [{
                    "step": run.step - 1, "epoch": run.epoch if run.position else run.epoch - 1,
                    "loss": window[i, 0], "rec": window[i, 1], "kl": window[i, 2], "c_hat": c_hat[i],
                    "beta": beta[i], "phase": "initial" if initial[i] else "main"}])
            run.epoch_loss = float(epoch_loss[i])
            if valid is not None:
                v = float(host[13 * r + i])
                patience = run.spec["training"].get("early_stopping_patience")
                if settled[i] and v < run.best["valid"]:  # before, beta != its final value: not comparable
                    run.best = {"valid": v, "epoch": run.epoch,
                                "model": self.packed.state_dict(i) if patience is not None else None}
                run.settled = bool(settled[i])
                _append_csv(run.work / "epochs.csv", EPOCH_FIELDS, [{
                    "epoch": run.epoch, "step": run.step, "train_loss": run.epoch_loss / self.steps_per_epoch,
                    "valid_neg_elbo": v, "beta": beta[i], "seconds": run.seconds}])
                run.epoch_loss = 0.0
        if valid is not None:
            self.epoch_loss.zero_()
        self.window.zero_()
        self.window_steps = 0
        if self.live:
            run = self.runs[self.live[0]]
            bar.n = run.step
            bar.set_postfix(epoch=run.epoch, beta=f"{np.exp(log_beta[self.live[0]]):.3g}",
                            c_hat=f"{c_hat[self.live[0]]:.2f}", refresh=True)

    def _curve_point(self) -> None:
        """A cheap NLL estimate of each live run on fixed test items (learning curves of Table 2), from
        draws of its own seed, so it changes no run's random stream and every point uses the same draws."""
        for i in self.live:
            run, t0 = self.runs[i], time.perf_counter()
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                torch.manual_seed(CURVE_SEED)
                summary = nll_summary(importance_sampled_nll(self.packed.model(i), self.curve_x,
                                                             samples=self.curves["samples"]))
            _append_csv(run.work / "curve.csv", CURVE_FIELDS, [{
                "epoch": run.epoch, "step": run.step, "nll": summary["mean"], "nll_stderr": summary["stderr"],
                "samples": self.curves["samples"], "n_items": summary["n"], "seconds": time.perf_counter() - t0}])

    def _stops_early(self, i: int, epoch: int) -> bool:
        run = self.runs[i]
        patience = run.spec["training"].get("early_stopping_patience")
        if patience is None or epoch >= run.spec["training"]["epochs"] or not run.settled:
            return False
        if epoch - run.best["epoch"] >= patience:
            log.info("%s: early stop before epoch %d: no better validation -ELBO since epoch %d", run.name, epoch,
                     run.best["epoch"])
            return True
        return False

    def _fail(self, i: int, step: int, terms: np.ndarray) -> None:
        run = self.runs[i]
        epoch = step // self.steps_per_epoch
        run.failure = (f"{run.name}: loss is {terms[0]} at step {step} (epoch {epoch}; rec {terms[1]}, kl {terms[2]}, "
                       f"beta {terms[3]}); expected a finite value. "
                       + (f"The last good checkpoint {run.ckpt_path} is kept" if run.ckpt_path.exists()
                          else "No checkpoint had been written yet: a rerun starts this run over"))
        log.error("%s", run.failure)
        self.adam.retire(i)

    def _snapshots(self, step: int) -> None:
        """Posterior means/stds of a fixed test subset and prior samples at the runs' snapshot steps (Fig. 2)."""
        for i in self.live:
            run = self.runs[i]
            if step in run.spec["training"]["snapshot_steps"]:
                _take_snapshot(run, self.packed.model(i), step, float(self.schedules.beta[i]), self.snap_x,
                               self.snap_labels)

    def _checkpoint_all(self) -> None:
        for i in self.live:
            self._checkpoint(i)
        self.last_checkpoint = time.monotonic()

    def _checkpoint(self, i: int) -> None:
        run = self.runs[i]
        state = {"model": self.packed.state_dict(i), "optimizer": self.adam.state_dict(i),
                 "schedule": self.schedules.state_dict(i), "generator": run.generator.get_state(),
                 "rng": global_rng_state(self.device), "spec": _identity(run.spec),
                 "data_dim": self.splits.data_dim, "epoch": run.epoch, "step": run.step,
                 "position": run.position, "order": None if run.order is None else run.order.cpu(),
                 "seconds": run.seconds, "epoch_loss": run.epoch_loss, "settled": run.settled, "best": run.best}
        checkpoints.save(state, run.ckpt_path)

    def _finish(self, i: int) -> None:
        """Publish run i (the best validation epoch's model under early stopping) and stop updating it."""
        run = self.runs[i]
        if run.step in run.spec["training"]["snapshot_steps"]:
            _take_snapshot(run, self.packed.model(i), run.step, float(self.schedules.beta[i]), self.snap_x,
                           self.snap_labels)
        s = self.schedules
        final = {"final_beta": float(s.beta[i]), "final_c_hat": float(s.c_hat[i]),
                 "final_phase": "initial" if bool(s.initial_phase[i]) else "main"}
        run.summary = {"steps": run.step, "epochs_run": run.epoch, "train_seconds": run.seconds, **final,
                       "best_valid_epoch": run.best["epoch"], "compiled": self.compile and self.packed.compiling}
        self._checkpoint(i)  # a rerun of the pack (another run's output went missing) only republishes this one
        model_state = run.best["model"] if run.best["model"] is not None else self.packed.state_dict(i)
        _publish(run, model_state, self.splits.data_dim)
        run.done = True
        self.adam.retire(i)


def _lr(run: _Run, epoch: int) -> float:
    cfg = run.spec["training"]
    return lr_at(epoch, cfg["lr"], cfg.get("lr_stages"))


@torch.no_grad()
def _take_snapshot(run: _Run, model: VAE, step: int, beta: float, x: torch.Tensor,
                   labels: np.ndarray | None) -> None:
    """One Fig. 2 snapshot; its prior samples come from a generator of their own, so that taking a
    snapshot changes no run's random stream."""
    mu, std = model.encode_mean(x)
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        torch.manual_seed(run.spec["seed"] * 1_000_003 + step)
        prior = model.prior.sample(len(x))
    arrays = {"step": step, "beta": beta, "mu": mu.cpu().numpy(), "std": std.cpu().numpy(),
              "prior": prior.cpu().numpy()}
    if labels is not None:
        arrays["labels"] = labels
    folder = run.work / "snapshots"
    folder.mkdir(exist_ok=True)
    with atomic_path(folder / f"step_{step:08d}.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def _collect_snapshots(folder: Path) -> dict[str, np.ndarray]:
    """All snapshots as arrays stacked along a leading step axis."""
    files = sorted(folder.glob("step_*.npz"))
    if not files:
        return {}
    loaded = [dict(np.load(f)) for f in files]
    return {key: np.stack([d[key] for d in loaded]) for key in loaded[0]}


def _publish(run: _Run, model_state: dict[str, torch.Tensor], data_dim: int) -> None:
    checkpoints.save({"model": model_state, "spec": run.spec, "data_dim": data_dim, "summary": run.summary},
                     run.run_dir / "model.pt")
    for name in ("train_log.csv", "epochs.csv"):
        with atomic_path(run.run_dir / name) as tmp:
            tmp.write_bytes((run.work / name).read_bytes())
    if "curves" in run.spec:  # a run stopped before its first curve point publishes the header alone
        curve = run.work / "curve.csv"
        with atomic_path(run.run_dir / "curve.csv") as tmp:
            tmp.write_text(curve.read_text() if curve.exists() else ",".join(CURVE_FIELDS) + "\n")
    with atomic_path(run.run_dir / "snapshots.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **_collect_snapshots(run.work / "snapshots"))


def _append_csv(path: Path, fields: list[str], rows: list[dict[str, Any]]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def _truncate_csv(path: Path, fields: list[str], keep: Callable[[dict[str, str]], bool]) -> None:
    """Drop rows written after the checkpoint (a kill between log and checkpoint leaves some)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if keep(r)]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def train_run(spec: dict[str, Any], run_dir: str | Path, progress: bool = True) -> dict[str, Any]:
    """Load the run's dataset and train it."""
    return train_pack([spec], [run_dir], progress)[0]


def train_pack(specs: Sequence[dict[str, Any]], run_dirs: Sequence[str | Path],
               progress: bool = True) -> list[dict[str, Any]]:
    """Load the runs' dataset and train them as one pack: the entry point the workflow calls."""
    for run_dir, spec in zip(run_dirs, specs, strict=True):
        require_writable(run_dir, f"training {spec['method']}/seed{spec['seed']}")
    splits = datasets.load_run_data(specs[0])
    return fit_pack(specs, splits, run_dirs, progress=progress)
