"""One training loop for every method: Adam on minibatches, a beta schedule, per-step CSV log,
a checkpoint every epoch and exact resume from it; optional early stopping on the validation -ELBO.

In-progress state lives in `run_dir/work/`; the finished outputs (model.pt, train_log.csv,
epochs.csv, snapshots.npz) are published atomically at the end, so a partial run never overwrites
or masquerades as a finished one.
"""
import copy
import csv
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from vhp_core import datasets
from vhp_core.datasets import Splits
from vhp_core.devices import resolve_device
from vhp_core.io import atomic_path
from vhp_core.model import VAE, ModelConfig
from vhp_core.objectives import OBJECTIVES
from vhp_core.schedules import BetaSchedule, build_schedule

log = logging.getLogger(__name__)

LOG_FIELDS = ["step", "epoch", "loss", "rec", "kl", "c_hat", "beta", "phase"]
EPOCH_FIELDS = ["epoch", "step", "train_loss", "valid_neg_elbo", "beta", "seconds"]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class CheckpointError(RuntimeError):
    """A checkpoint file could not be read back."""


def build_model(spec: dict[str, Any], data_dim: int) -> VAE:
    m = spec["model"]
    cfg = ModelConfig(data_dim=data_dim, latent_dim=m["latent_dim"], hidden=m["hidden"],
                      activation=m["activation"], likelihood=m["likelihood"],
                      prior=spec["prior"], prior_args=spec["prior_args"])
    return VAE(cfg)


def load_model(path: str | Path, device: str | torch.device = "auto") -> tuple[VAE, dict[str, Any]]:
    """Rebuild a trained model from `model.pt` alone on `device` ('auto': CUDA when present); returns
    (model in eval mode, the rest of the file: its run `spec`, `data_dim` and the training `summary`)."""
    device = resolve_device(device) if isinstance(device, str) else device
    state = _read_checkpoint(path, device)
    model = build_model(state["spec"], state["data_dim"])
    model.load_state_dict(state.pop("model"))
    return model.to(device).eval(), state


def _read_checkpoint(path: str | Path, device: str | torch.device) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} is missing; train the run first")
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # torch raises several types for a damaged zip
        raise CheckpointError(f"{path} is not a readable checkpoint ({exc}); delete it to start that run over") from exc


@torch.no_grad()
def neg_elbo(model: VAE, x: torch.Tensor, k: int, batch_size: int = 1000) -> float:
    """Mean -ELBO (beta = 1, K-sample IW prior bound) over x, in nats per item."""
    model.eval()
    total = 0.0
    for i in range(0, len(x), batch_size):
        rec, kl = model.rec_and_kl(x[i:i + batch_size], None, k)
        total += (rec + kl).sum().item()
    model.train()
    return total / len(x)


def lr_at(epoch: int, lr: float, stages: list[list[float]] | None) -> float:
    """Learning rate of a 0-based epoch: `lr`, or stage by stage from [[epochs, lr], ...] (Burda et
    al. 2016: 3^i epochs at 1e-3 * 10^(-i/7), i = 0..7), the last stage's rate after the stages end."""
    if not stages:
        return lr
    end = 0
    for n_epochs, stage_lr in stages:
        end += n_epochs
        if epoch < end:
            return stage_lr
    return stages[-1][1]


def _batch(x: torch.Tensor, splits: Splits, generator: torch.Generator) -> torch.Tensor:
    """Dynamic binarisation draws each pixel from Bernoulli(grey level) anew for every minibatch."""
    if splits.dynamic_binarization:
        return torch.bernoulli(x, generator=generator)
    return x


class _Snapshots:
    """Posterior means/stds of a fixed data subset and prior samples at chosen steps (Fig. 2)."""

    def __init__(self, folder: Path, steps: list[int], x: torch.Tensor, labels: np.ndarray | None):
        self.folder, self.steps, self.x, self.labels = folder, set(steps), x, labels

    @torch.no_grad()
    def maybe_take(self, model: VAE, step: int, beta: float) -> None:
        if step not in self.steps:
            return
        mu, std = model.encode_mean(self.x)
        state = torch.get_rng_state()  # sampling here must not change the training's random stream
        prior = model.prior.sample(len(self.x))
        torch.set_rng_state(state)
        arrays = {"step": step, "beta": beta, "mu": mu.cpu().numpy(), "std": std.cpu().numpy(),
                  "prior": prior.cpu().numpy()}
        if self.labels is not None:
            arrays["labels"] = self.labels
        with atomic_path(self.folder / f"step_{step:08d}.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)

    def collect(self) -> dict[str, np.ndarray]:
        """All snapshots as arrays stacked along a leading step axis."""
        files = sorted(self.folder.glob("step_*.npz"))
        if not files:
            return {}
        loaded = [dict(np.load(f)) for f in files]
        return {key: np.stack([d[key] for d in loaded]) for key in loaded[0]}


def fit(spec: dict[str, Any], splits: Splits, run_dir: str | Path, progress: bool = True) -> dict[str, Any]:
    """Train one run to `spec['training']['epochs']`, resuming from run_dir/work/checkpoint.pt if any;
    returns a summary of the finished run."""
    run_dir = Path(run_dir)
    work = run_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    train_cfg = spec["training"]
    device = resolve_device(spec["device"])
    torch.set_num_threads(spec["torch_threads"])
    torch.manual_seed(spec["seed"])
    generator = torch.Generator().manual_seed(spec["seed"])

    model = build_model(spec, splits.data_dim).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_cfg["lr"])
    x_train = splits.train[:train_cfg.get("train_items")].to(device)
    steps_per_epoch = math.ceil(len(x_train) / train_cfg["batch_size"])
    schedule = build_schedule(spec["schedule"], spec["kappa"], splits.data_dim)
    objective = OBJECTIVES[spec["objective"]]
    prior_params = model.prior_parameters()
    n_snap = min(train_cfg["snapshot_points"], len(splits.test))
    snapshots = _Snapshots(work / "snapshots", train_cfg["snapshot_steps"], splits.test[:n_snap].to(device),
                           None if splits.labels is None else splits.labels["test"][:n_snap])

    start_epoch, step, elapsed = 0, 0, 0.0
    patience = train_cfg.get("early_stopping_patience")
    best: dict[str, Any] = {"valid": math.inf, "epoch": 0, "model": None}  # lowest validation -ELBO so far
    ckpt_path = work / "checkpoint.pt"
    if ckpt_path.exists():
        state = _read_checkpoint(ckpt_path, device)
        if state["spec"] != spec:
            stale = ckpt_path.with_suffix(".stale.pt")
            log.warning("%s was written for a different config; moved to %s, starting over", ckpt_path, stale)
            ckpt_path.replace(stale)
            for f in (work / "train_log.csv", work / "epochs.csv", *(work / "snapshots").glob("*.npz")):
                f.unlink(missing_ok=True)
        else:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            torch.set_rng_state(state["torch_rng"])
            generator.set_state(state["generator"])
            start_epoch, step, elapsed, best = state["epoch"], state["step"], state["seconds"], state["best"]
            log.info("resuming %s at epoch %d (step %d)", run_dir, start_epoch, step)
    _truncate_csv(work / "train_log.csv", LOG_FIELDS, lambda row: int(row["step"]) < step)
    _truncate_csv(work / "epochs.csv", EPOCH_FIELDS, lambda row: int(row["step"]) <= step)

    x_valid = splits.valid.to(device)
    epochs = range(start_epoch, train_cfg["epochs"])
    bar = tqdm(epochs, desc=f"{spec['dataset']}/{spec['method']}/seed{spec['seed']}", disable=not progress,
               initial=start_epoch, total=train_cfg["epochs"], mininterval=2.0)
    model.train()
    for epoch in bar:
        if patience is not None and schedule.settled and epoch - best["epoch"] >= patience:
            log.info("early stop before epoch %d: no better validation -ELBO since epoch %d", epoch, best["epoch"])
            break
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(epoch, train_cfg["lr"], train_cfg.get("lr_stages"))
        rows, losses = [], []
        order = torch.randperm(len(x_train), generator=generator).to(device)
        for b in range(steps_per_epoch):
            snapshots.maybe_take(model, step, schedule.beta)
            x = _batch(x_train[order[b * train_cfg["batch_size"]:(b + 1) * train_cfg["batch_size"]]], splits,
                       generator)
            terms = _step(model, optimizer, objective, schedule, prior_params, x, spec["k"],
                          epoch + b / steps_per_epoch)
            if not math.isfinite(terms["loss"]):
                raise NonFiniteLossError(
                    f"{spec['dataset']}/{spec['method']}/seed{spec['seed']}: loss is {terms['loss']} at step "
                    f"{step} (epoch {epoch}; rec {terms['rec']}, kl {terms['kl']}, beta {terms['beta']}); "
                    f"expected a finite value. The last good checkpoint {ckpt_path} (epoch {start_epoch}) is kept")
            rows.append({"step": step, "epoch": epoch, **terms})
            losses.append(terms["loss"])
            step += 1
        valid = neg_elbo(model, x_valid, spec["k"])
        if schedule.settled and valid < best["valid"]:  # before, beta != its final value: not comparable
            best = {"valid": valid, "epoch": epoch + 1,
                    "model": copy.deepcopy(model.state_dict()) if patience is not None else None}
        elapsed += time.perf_counter() - t0
        _append_csv(work / "train_log.csv", LOG_FIELDS, rows)
        _append_csv(work / "epochs.csv", EPOCH_FIELDS, [{
            "epoch": epoch + 1, "step": step, "train_loss": float(np.mean(losses)), "valid_neg_elbo": valid,
            "beta": schedule.beta, "seconds": elapsed}])
        _save_checkpoint(ckpt_path, model, optimizer, schedule, generator, spec, splits.data_dim,
                         epoch + 1, step, elapsed, best)
        bar.set_postfix(loss=f"{np.mean(losses):.2f}", c_hat=f"{schedule.c_hat:.2f}", beta=f"{schedule.beta:.3g}",
                        phase=schedule.phase, valid=f"{valid:.2f}")
        start_epoch = epoch + 1
    snapshots.maybe_take(model, step, schedule.beta)
    summary = {"steps": step, "epochs_run": start_epoch, "train_seconds": elapsed, "final_beta": schedule.beta,
               "final_c_hat": schedule.c_hat, "final_phase": schedule.phase, "best_valid_epoch": best["epoch"]}
    if best["model"] is not None:  # early stopping publishes the model of the best validation epoch
        model.load_state_dict(best["model"])
    return _publish(run_dir, work, model, spec, splits.data_dim, summary, snapshots)


def _step(model: VAE, optimizer: torch.optim.Optimizer, objective: Callable, schedule: BetaSchedule,
          prior_params: list[torch.nn.Parameter], x: torch.Tensor, k: int, epoch: float) -> dict[str, Any]:
    """One update in the order of Alg. 1: forward, update C_hat and beta, then step the optimiser
    (on theta, phi only while the schedule says the prior is not trained). A prior that wants a
    data-dependent initialisation gets it from the batch's posterior before its first update, and
    that update's forward pass is then made again with it."""
    terms = objective(model, x, k)
    schedule.update(terms.rec.item(), epoch)
    if schedule.trains_prior and model.prior.awaiting_data:
        model.prior.initialise(*model.encode_mean(x))
        terms = objective(model, x, k)
    loss = terms.loss(schedule.beta)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if not schedule.trains_prior:
        for p in prior_params:
            p.grad = None  # Adam skips parameters without a gradient: Theta, Phi stay as they are
    optimizer.step()
    return {"loss": loss.item(), "rec": terms.rec.item(), "kl": terms.kl.item(), "c_hat": schedule.c_hat,
            "beta": schedule.beta, "phase": schedule.phase}


def _save_checkpoint(path: Path, model: VAE, optimizer, schedule: BetaSchedule, generator: torch.Generator,
                     spec: dict[str, Any], data_dim: int, epoch: int, step: int, seconds: float,
                     best: dict[str, Any]) -> None:
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
             "torch_rng": torch.get_rng_state(), "generator": generator.get_state(), "spec": spec,
             "data_dim": data_dim, "epoch": epoch, "step": step, "seconds": seconds, "best": best}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _publish(run_dir: Path, work: Path, model: VAE, spec: dict[str, Any], data_dim: int,
             summary: dict[str, Any], snapshots: _Snapshots) -> dict[str, Any]:
    with atomic_path(run_dir / "model.pt") as tmp:
        torch.save({"model": model.state_dict(), "spec": spec, "data_dim": data_dim, "summary": summary}, tmp)
    for name in ("train_log.csv", "epochs.csv"):
        with atomic_path(run_dir / name) as tmp:
            tmp.write_bytes((work / name).read_bytes())
    with atomic_path(run_dir / "snapshots.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **snapshots.collect())
    return summary


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
    """Load the run's dataset and train it: the entry point the workflow calls."""
    splits = datasets.load(spec["dataset"], spec["data_root"], spec["dataset_args"])
    return fit(spec, splits, run_dir, progress=progress)
