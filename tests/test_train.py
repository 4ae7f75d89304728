"""The training loop: a killed or terminated run resumes to exactly the uninterrupted result; a pack of
runs trains to the numbers each run reaches alone; the inner loop never reads a device value back; a NaN
loss, a corrupt checkpoint or a changed config are handled without losing or faking finished work."""
import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch._dynamo.utils import counters
from torch.utils._python_dispatch import TorchDispatchMode

from vhp_core.datasets import load
from vhp_core.devices import DeviceError, compiler_works, make_generator, resolve_device
from vhp_core.io import sha256_file
from vhp_core.maths.nll import importance_sampled_nll, nll_subset
from vhp_core.maths.objectives import Objective
from vhp_core.runs import train
from vhp_core.runs.checkpoints import CheckpointError
from vhp_core.runs.config import ConfigError, resolve_run
from vhp_core.runs.evaluate import evaluate_nll, evaluate_run
from vhp_core.runs.train import NonFiniteLossError, build_model, fit, fit_pack, load_model, lr_at

pytestmark = pytest.mark.slow


def make_spec(config: dict, method: str = "vhp_rewo", epochs: int = 3, seed: int = 1) -> dict:
    spec = resolve_run(config, "pendulum", method, seed)
    spec["training"]["epochs"] = epochs
    return spec


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def assert_same_models(a: Path, b: Path, **tolerance) -> None:
    ma, _ = load_model(a, "cpu")
    mb, _ = load_model(b, "cpu")
    for (name, x), y in zip(ma.state_dict().items(), mb.state_dict().values(), strict=True):
        if tolerance:
            torch.testing.assert_close(x, y, **tolerance, msg=name)
        else:
            assert torch.equal(x, y), name


@pytest.mark.fault("interruption")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_interrupted_run_resumes_to_the_same_result(config, tmp_path, sig):
    """SIGKILL lands anywhere (resume from the last epoch's checkpoint); SIGTERM, as a cluster's time limit
    sends it, writes a checkpoint mid-epoch at the next log point, from which the rerun resumes."""
    epochs = 40
    config["datasets"]["pendulum"]["training"]["epochs"] = epochs
    spec = make_spec(config, epochs=epochs)
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    fit(spec, splits, tmp_path / "whole", progress=False)

    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "vhp_core", "train", "--config", str(config_file), "--dataset", "pendulum",
           "--method", "vhp_rewo", "--seed", "1", "--run-dir", str(tmp_path / "cut")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    epochs_csv = tmp_path / "cut" / "work" / "epochs.csv"
    deadline = time.time() + 600  # a starved CI worker took over 120 s to reach its third epoch

    def epochs_done() -> int:
        return len(epochs_csv.read_text().splitlines()) - 1 if epochs_csv.exists() else 0

    while time.time() < deadline and epochs_done() < 3:
        time.sleep(0.02)
    if epochs_done() < 3:
        proc.kill()
        pytest.fail(f"the run wrote {epochs_done()} epochs in 600 s: too slow to interrupt mid-run")
    proc.send_signal(sig)
    _, err = proc.communicate()
    assert not (tmp_path / "cut" / "model.pt").exists(), "the signal must land mid-run"
    state = torch.load(tmp_path / "cut" / "work" / "checkpoint.pt", weights_only=False)
    assert 2 <= state["epoch"] < epochs
    if sig == signal.SIGTERM:
        assert b"Interrupted: SIGTERM" in err and proc.returncode != 0

    fit(spec, splits, tmp_path / "cut", progress=False)
    assert_same_models(tmp_path / "whole" / "model.pt", tmp_path / "cut" / "model.pt")
    for name in ("train_log.csv", "epochs.csv"):
        whole, cut = rows(tmp_path / "whole" / name), rows(tmp_path / "cut" / name)
        assert [{k: v for k, v in r.items() if k != "seconds"} for r in whole] == \
               [{k: v for k, v in r.items() if k != "seconds"} for r in cut], name
    m_whole, m_cut = evaluate_run(tmp_path / "whole" / "model.pt"), evaluate_run(tmp_path / "cut" / "model.pt")
    for key in ("test_neg_elbo_k10", "ols", "final_beta", "steps"):
        assert m_whole[key] == m_cut[key], key


def test_packed_runs_train_to_the_numbers_of_runs_alone(config, tmp_path):
    """Five runs of four schedules (REWO with its initial phase and prior initialisation, GECO, warm-up,
    constant), two seeds of one method, one pack against one by one, 4 epochs (40 steps). Tolerance:
    batched against single matrix products round differently, about 1e-6 relative per step; after 40
    Adam steps parameters agree to 1e-4 and logged losses to 1e-4 relative. Except GECO's parameters:
    its beta falls to 1e-10 here, where the KL gradient on the encoder's variance head is at the level of
    rounding, and Adam, which divides a gradient by its own scale, turns that noise into steps of up to
    the learning rate (measured on one machine: 6.6e-3 after 40 steps, while GECO's logged losses and
    betas agree to 1e-6): those are held to Adam's bound, 40 steps x lr."""
    methods = [("vhp_rewo", 1), ("vhp_rewo", 2), ("vhp_geco", 1), ("vhp_wu20", 1), ("vhp", 3)]
    specs = [make_spec(config, m, epochs=4, seed=s) for m, s in methods]
    specs[0]["kappa2"] = 12.6**2  # REWO leaves its initial phase within the stretch
    splits = load("pendulum", specs[0]["data_root"], specs[0]["dataset_args"])
    packed = fit_pack(specs, splits, [tmp_path / "pack" / f"{m}{s}" for m, s in methods], progress=False)
    alone = [fit(spec, splits, tmp_path / "alone" / f"{m}{s}", progress=False) for spec, (m, s) in
             zip(specs, methods, strict=True)]
    assert packed[0]["final_phase"] == "main" and rows(tmp_path / "pack" / "vhp_rewo1" / "train_log.csv")[0][
        "phase"] == "initial", "the stretch must cover REWO's phase switch"
    for (m, s), p, a in zip(methods, packed, alone, strict=True):
        run = f"{m}{s}"
        assert p["final_beta"] == pytest.approx(a["final_beta"], rel=1e-4), run
        assert p["final_phase"] == a["final_phase"] and p["steps"] == a["steps"] == 40
        adam_bound = 40 * specs[0]["training"]["lr"] if m == "vhp_geco" else 1e-4
        assert_same_models(tmp_path / "pack" / run / "model.pt", tmp_path / "alone" / run / "model.pt",
                           rtol=1e-4, atol=adam_bound)
        for name in ("train_log.csv", "epochs.csv"):
            rp, ra = rows(tmp_path / "pack" / run / name), rows(tmp_path / "alone" / run / name)
            assert len(rp) == len(ra) and rp[0].keys() == ra[0].keys()
            for x, y in zip(rp, ra, strict=True):
                for key in x:
                    if key in ("phase", "step", "epoch"):
                        assert x[key] == y[key], (run, name, key)
                    elif key != "seconds":
                        assert float(x[key]) == pytest.approx(float(y[key]), rel=1e-4, abs=1e-6), (run, name, key)
        files = {f.name for f in (tmp_path / "pack" / run).iterdir()}
        assert files == {f.name for f in (tmp_path / "alone" / run).iterdir()}


def test_compiled_pack_trains_to_the_numbers_of_the_eager_pack(config, tmp_path):
    """`runtime/compile` is a speed choice: two REWO runs packed (phase switch and prior initialisation inside
    the stretch), the loss call compiled, against the same pack eager, 4 epochs (40 steps). The compiled loss
    is one graph, compiled once, without a break, so it reads nothing back to the host between log points (a
    read would break the graph; the dispatch-mode test cannot see inside compiled code, which a dispatch mode
    turns off). Tolerance as for packing: the fused kernels round differently, about 1e-6 relative per step."""
    if not compiler_works(torch.device("cpu")):  # its probe compiles before the count below starts
        pytest.skip("torch.compile cannot build kernels on this machine")
    specs = {on: [make_spec(config, epochs=4, seed=s) for s in (1, 2)] for on in (False, True)}
    for on, pack in specs.items():
        for spec in pack:
            spec["kappa2"] = 12.6**2
            spec["runtime"]["compile"] = on
    splits = load("pendulum", specs[True][0]["data_root"], specs[True][0]["dataset_args"])
    eager = fit_pack(specs[False], splits, [tmp_path / "eager" / str(s) for s in (1, 2)], progress=False)
    counters.clear()
    compiled = fit_pack(specs[True], splits, [tmp_path / "compiled" / str(s) for s in (1, 2)], progress=False)
    assert counters["stats"]["unique_graphs"] == 1 and not counters["graph_break"], dict(counters)
    for s, c, e in zip((1, 2), compiled, eager, strict=True):
        assert c["compiled"] and not e["compiled"]
        assert c["final_phase"] == e["final_phase"] and c["steps"] == e["steps"] == 40
        assert c["final_beta"] == pytest.approx(e["final_beta"], rel=1e-4)
        assert_same_models(tmp_path / "compiled" / str(s) / "model.pt", tmp_path / "eager" / str(s) / "model.pt",
                           rtol=1e-4, atol=1e-4)
        for name in ("train_log.csv", "epochs.csv"):
            rc, re_ = rows(tmp_path / "compiled" / str(s) / name), rows(tmp_path / "eager" / str(s) / name)
            assert len(rc) == len(re_)
            for x, y in zip(rc, re_, strict=True):
                for key in x.keys() - {"seconds"}:
                    if key in ("phase", "step", "epoch"):
                        assert x[key] == y[key], (s, name, key)
                    else:
                        assert float(x[key]) == pytest.approx(float(y[key]), rel=1e-4, abs=1e-6), (s, name, key)
    assert compiled[0]["final_phase"] == "main" and rows(tmp_path / "compiled" / "1" / "train_log.csv")[0][
        "phase"] == "initial", "the stretch must cover REWO's phase switch"


class InvalidCxxCompiler(RuntimeError):
    """Stands for Inductor's error on a machine without a C++ compiler."""


orig_mapped = train.PackedModel._mapped


@pytest.mark.parametrize("fails", ["probe", "step"])
def test_without_a_working_compiler_training_warns_and_runs_eagerly(config, tmp_path, monkeypatch, fails):
    """A machine whose toolchain cannot build kernels (no C++ compiler) fails the probe, or (a graph-specific
    failure) the compile of the training step itself; either way Dynamo's wrapped error is unwrapped into a
    warning naming the cause and the config key, and training goes on eagerly, with the numbers of an
    eager run (the step's draws were made before the failed compile) and `compiled` False in its summary."""
    def failing(*args, **kwargs):
        raise torch._dynamo.exc.BackendCompilerFailed(
            "inductor", InvalidCxxCompiler("No working C++ compiler found in torch._inductor.config.cpp.cxx"), None)

    spec = make_spec(config, epochs=1)
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    fit_pack([spec], splits, [tmp_path / "eager"], progress=False)
    spec["runtime"]["compile"] = True
    compiler_works.cache_clear()
    if fails == "probe":
        monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: failing)
    else:
        monkeypatch.setattr(train.PackedModel, "_mapped",
                            lambda self, fn, compiled: failing if compiled else orig_mapped(self, fn, compiled))
    try:
        with pytest.warns(RuntimeWarning, match="InvalidCxxCompiler: No working C\\+\\+ compiler.*runtime/compile"):
            summary = fit_pack([spec], splits, [tmp_path / "run"], progress=False)[0]
    finally:
        compiler_works.cache_clear()
    assert summary["steps"] == 10 and not summary["compiled"]
    assert_same_models(tmp_path / "run" / "model.pt", tmp_path / "eager" / "model.pt")


@pytest.mark.fault("interruption")
def test_terminated_pack_resumes_each_run_to_its_uninterrupted_numbers(config, tmp_path, monkeypatch):
    """SIGTERM mid-epoch checkpoints every run of a pack; one run's checkpoint is then lost (it starts
    over as a pack of its own, the others resume together from step 25): all three end where an
    uninterrupted pack ends."""
    methods = [("vhp_rewo", 1), ("vhp_geco", 2), ("vhp", 1)]
    specs = [make_spec(config, m, epochs=4, seed=s) for m, s in methods]
    for spec in specs:
        spec["runtime"] = {"log_every": 5, "checkpoint_minutes": 1e6}
    splits = load("pendulum", specs[0]["data_root"], specs[0]["dataset_args"])
    whole = fit_pack(specs, splits, [tmp_path / "whole" / f"{m}{s}" for m, s in methods], progress=False)

    cut = [tmp_path / "cut" / f"{m}{s}" for m, s in methods]
    log_point = train._Trainer._log_point

    def terminate_at_step_25(self, *args, **kwargs):
        log_point(self, *args, **kwargs)
        self.sigterm.raised = self.runs[0].step == 25

    monkeypatch.setattr(train._Trainer, "_log_point", terminate_at_step_25)
    with pytest.raises(train.Interrupted, match="SIGTERM: checkpoints written"):
        fit_pack(specs, splits, cut, progress=False)
    monkeypatch.undo()
    assert [torch.load(d / "work" / "checkpoint.pt", weights_only=False)["step"] for d in cut] == [25, 25, 25]
    (cut[1] / "work" / "checkpoint.pt").unlink()
    resumed = fit_pack(specs, splits, cut, progress=False)
    published = (cut[0] / "model.pt").stat().st_mtime_ns
    assert fit_pack(specs, splits, cut, progress=False) == resumed  # finished runs are republished, not retrained
    assert (cut[0] / "model.pt").stat().st_mtime_ns > published
    for (m, s), w, r, d in zip(methods, whole, resumed, cut, strict=True):
        run = f"{m}{s}"
        assert (w["steps"], w["epochs_run"], w["final_phase"]) == (r["steps"], r["epochs_run"], r["final_phase"])
        assert r["final_beta"] == pytest.approx(w["final_beta"], rel=1e-4), run
        assert_same_models(tmp_path / "whole" / run / "model.pt", d / "model.pt", rtol=1e-4, atol=1e-4)
        whole_log, cut_log = rows(tmp_path / "whole" / run / "train_log.csv"), rows(d / "train_log.csv")
        assert [x["step"] for x in whole_log] == [x["step"] for x in cut_log]
        assert [float(x["loss"]) for x in cut_log] == pytest.approx([float(x["loss"]) for x in whole_log], rel=1e-4)


class ScalarReads(TorchDispatchMode):
    """Counts reads of a tensor's value by the host (`.item()`, `float()`, `bool()` reach this op)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("packed", [False, True])
def test_no_host_reads_between_log_points(config, tmp_path, monkeypatch, packed):
    """Every schedule, alone and packed: between two log points (every 10 steps here) the loop reads no
    value back from the device; the log point itself reads everything in one transfer."""
    methods = ["vhp_rewo", "vhp_geco", "vhp_wu20", "vhp"]
    specs = [make_spec(config, m, epochs=2) for m in methods]
    for spec in specs:
        spec["training"]["snapshot_steps"] = []
        spec["runtime"] = {"log_every": 5, "checkpoint_minutes": 1e6}
    specs[0]["kappa2"] = 12.6**2  # REWO switches phase and initialises its prior inside the stretch
    splits = load("pendulum", specs[0]["data_root"], specs[0]["dataset_args"])
    reads = ScalarReads()
    between: list[int] = []
    log_point = train._Trainer._log_point

    def counted(self, *args, **kwargs):
        between.append(reads.count)
        log_point(self, *args, **kwargs)
        reads.count = 0

    monkeypatch.setattr(train._Trainer, "_log_point", counted)
    monkeypatch.setattr(train._Trainer, "_finish", lambda self, i: setattr(self.runs[i], "done", True))
    groups = [specs] if packed else [[s] for s in specs]
    with reads:
        for group in groups:
            fit_pack(group, splits, [tmp_path / s["method"] for s in group], progress=False)
    assert len(between) == 4 * len(groups)  # 2 epochs x (one mid-epoch point + the epoch end)
    assert between == [0] * len(between)


class Poisoned(Objective):
    """The VHP objective whose loss turns NaN, from the 16th call on, in the runs whose beta is below 0.5
    (the first call records the run's draw plan: the 15th step, step 14, is the first NaN)."""

    def __init__(self):
        super().__init__(joint=False)
        object.__setattr__(self, "calls", [0])

    def loss(self, rec, kl, beta):
        self.calls[0] += 1
        loss = super().loss(rec, kl, beta)
        return loss * torch.where(beta < 0.5, float("nan"), 1.0) if self.calls[0] > 15 else loss


@pytest.mark.fault("divergence")
def test_nan_loss_stops_its_run_alone_and_keeps_finished_results(config, tmp_path):
    spec = make_spec(config, epochs=2)
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    fit(spec, splits, tmp_path / "rewo", progress=False)
    finished = sha256_file(tmp_path / "rewo" / "model.pt")

    train.OBJECTIVES.register("poisoned_once")(Poisoned())
    spec["objective"] = "poisoned_once"
    spec["training"]["lr"] = 2e-3  # a changed config: the old checkpoint is set aside, training restarts
    message = r"pendulum/vhp_rewo/seed1: loss is nan at step 14 \(epoch 1;.*expected a finite"
    with pytest.raises(NonFiniteLossError, match=message):
        fit(spec, splits, tmp_path / "rewo", progress=False)
    assert sha256_file(tmp_path / "rewo" / "model.pt") == finished
    assert torch.load(tmp_path / "rewo" / "work" / "checkpoint.pt", weights_only=False)["epoch"] == 1

    train.OBJECTIVES.register("poisoned_pack")(Poisoned())  # REWO (beta 1e-4) diverges, the VAE goes on
    specs = [{**make_spec(config, m, epochs=3), "objective": "poisoned_pack"} for m in ("vhp_rewo", "vhp")]
    with pytest.raises(NonFiniteLossError, match=r"pendulum/vhp_rewo/seed1: loss is nan") as error:
        fit_pack(specs, splits, [tmp_path / "pack" / "rewo", tmp_path / "pack" / "vae"], progress=False)
    assert "vhp/seed1" not in str(error.value)
    assert (tmp_path / "pack" / "vae" / "model.pt").exists() and not (tmp_path / "pack" / "rewo" / "model.pt").exists()
    assert len(rows(tmp_path / "pack" / "vae" / "epochs.csv")) == 3


@pytest.mark.fault("files")
def test_corrupt_or_missing_checkpoint_is_named(config, tmp_path):
    spec = make_spec(config, epochs=1)
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    ckpt = tmp_path / "work" / "checkpoint.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=f"{ckpt} is not a readable checkpoint"):
        fit(spec, splits, tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="model.pt is missing"):
        load_model(tmp_path / "model.pt")


def flip_a_byte_inside(path: Path, tensor: torch.Tensor) -> None:
    """Flip one byte in the middle of `tensor`'s stored bytes: the zip stays readable, the numbers change."""
    data = bytearray(path.read_bytes())
    at = bytes(data).find(tensor.detach().cpu().contiguous().numpy().tobytes())
    assert at >= 0
    data[at + tensor.numel() * tensor.element_size() // 2] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.mark.fault("files")
def test_flipped_bytes_in_a_model_or_checkpoint_stop_with_the_file_named(config, tmp_path):
    spec = make_spec(config, epochs=1)
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    fit(spec, splits, tmp_path, progress=False)
    model, _ = load_model(tmp_path / "model.pt", "cpu")
    weight = model.decoder.net[0].weight
    flip_a_byte_inside(tmp_path / "model.pt", weight)
    state = torch.load(tmp_path / "model.pt", weights_only=False)  # torch itself reads it without complaint
    assert not torch.equal(state["model"]["decoder.net.0.weight"], weight)
    with pytest.raises(CheckpointError, match=f"{tmp_path / 'model.pt'} does not hold what was written.*delete "
                                              f"{tmp_path} and train that run again"):
        load_model(tmp_path / "model.pt", "cpu")
    ckpt = tmp_path / "work" / "checkpoint.pt"
    flip_a_byte_inside(ckpt, torch.load(ckpt, weights_only=False)["model"]["decoder.net.0.weight"])
    spec["training"]["epochs"] = 2  # resume: the checkpoint is read again
    with pytest.raises(CheckpointError, match=f"{ckpt} does not hold what was written.*delete {ckpt}"):
        fit(spec, splits, tmp_path, progress=False)


@pytest.mark.fault("divergence")
def test_a_nan_before_the_first_checkpoint_says_there_is_none(config, tmp_path):
    spec = {**make_spec(config, epochs=2), "objective": "poisoned_early"}
    poisoned = Poisoned()
    poisoned.calls[0] = 12  # NaN from the 4th call on: step 2, before any checkpoint
    train.OBJECTIVES.register("poisoned_early")(poisoned)
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    with pytest.raises(NonFiniteLossError, match="No checkpoint had been written yet: a rerun starts this run over"):
        fit(spec, splits, tmp_path, progress=False)
    assert not (tmp_path / "work" / "checkpoint.pt").exists() and not (tmp_path / "model.pt").exists()


def test_changed_config_restarts_instead_of_resuming(config, tmp_path):
    spec = make_spec(config, epochs=2)
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    fit(spec, splits, tmp_path / "a", progress=False)
    spec["training"]["lr"] = 3e-3
    fit(spec, splits, tmp_path / "a", progress=False)
    fit(spec, splits, tmp_path / "b", progress=False)
    assert (tmp_path / "a" / "work" / "checkpoint.stale.pt").exists()
    assert [r["loss"] for r in rows(tmp_path / "a" / "train_log.csv")] == \
           [r["loss"] for r in rows(tmp_path / "b" / "train_log.csv")]


def test_cuda_without_cuda_stops_before_any_work(config, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    spec = make_spec(config, epochs=1)
    spec["device"] = "cuda"
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    with pytest.raises(DeviceError, match="config key device: 'cuda' asks for CUDA, but this machine has no CUDA"):
        fit(spec, splits, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    assert resolve_device("auto") == torch.device("cpu") and make_generator(torch.device("cpu"), 3).device.type == "cpu"


def test_rewo_initial_phase_leaves_the_prior_untouched(config, tmp_path):
    spec = make_spec(config, epochs=1)
    spec["kappa2"] = 1e-6  # unreachable: the whole run is the initial phase
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    torch.manual_seed(spec["seed"])
    initial = build_model(spec, splits.data_dim).state_dict()
    fit(spec, splits, tmp_path, progress=False)
    trained, _ = load_model(tmp_path / "model.pt")
    for name, value in trained.state_dict().items():
        if name.startswith("prior."):
            assert torch.equal(value, initial[name]), name
        elif name.startswith("encoder.net.0.weight"):
            assert not torch.equal(value, initial[name])


def test_the_prior_is_initialised_from_the_codes_of_its_first_update(config, tmp_path):
    """kappa^2 above any C: REWO's main phase starts at step 0, whose batch sets the prior's location and
    scale; with lr = 0 nothing else moves, so they are the batch's aggregate posterior statistics."""
    spec = make_spec(config, epochs=1)
    spec["kappa2"], spec["training"]["train_items"], spec["training"]["lr"] = 100.0**2, 100, 0.0
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    fit(spec, splits, tmp_path, progress=False)
    trained, _ = load_model(tmp_path / "model.pt")
    torch.manual_seed(spec["seed"])
    model = build_model(spec, splits.data_dim)
    order = torch.randperm(100, generator=make_generator(torch.device("cpu"), spec["seed"]))
    mu, std = model.encode_mean(splits.train[:100][order])
    assert trained.prior.initialised
    torch.testing.assert_close(trained.prior.loc, mu.mean(0))
    torch.testing.assert_close(trained.prior.log_scale.exp() ** 2, mu.var(0, correction=0) + std.pow(2).mean(0))


def scripted_validation(monkeypatch, values):
    values = iter(values)
    monkeypatch.setattr(train._Trainer, "_validation",
                        lambda self: torch.tensor([next(values)] * len(self.runs), dtype=torch.float64))


def test_early_stopping_publishes_the_best_validation_epoch(config, tmp_path, monkeypatch):
    splits = load("pendulum", config["data"]["root"], config["datasets"]["pendulum"]["args"])
    scripted_validation(monkeypatch, [0.0, 0.0])
    fit(make_spec(config, "vhp", epochs=2), splits, tmp_path / "ref", progress=False)  # exactly 2 epochs

    scripted_validation(monkeypatch, [5.0, 4.0, 4.5, 4.6, 4.7, 4.8])  # best after epoch 2, then no improvement
    spec = make_spec(config, "vhp", epochs=10)
    spec["training"]["early_stopping_patience"] = 2
    summary = fit(spec, splits, tmp_path / "stopped", progress=False)
    assert summary["epochs_run"] == 4 and summary["best_valid_epoch"] == 2
    assert_same_models(tmp_path / "stopped" / "model.pt", tmp_path / "ref" / "model.pt")


def test_early_stopping_waits_until_beta_has_settled(config, tmp_path, monkeypatch):
    """REWO on the pendulum is still far from beta = 1 after 4 epochs (40 steps): a validation -ELBO
    that only worsens must neither stop the run nor pick an epoch as the best."""
    splits = load("pendulum", config["data"]["root"], config["datasets"]["pendulum"]["args"])
    scripted_validation(monkeypatch, [1.0, 2.0, 3.0, 4.0])
    spec = make_spec(config, "vhp_rewo", epochs=4)
    spec["training"]["early_stopping_patience"] = 1
    summary = fit(spec, splits, tmp_path / "rewo", progress=False)
    assert summary["final_beta"] < 0.99
    assert summary["epochs_run"] == 4 and summary["best_valid_epoch"] == 0


def test_seed_offsets_move_one_draw_of_the_seed_alone(config, tmp_path):
    """A seed draws a run's initial weights and its random stream (data order, noise); an offset moves one
    draw alone. Seed 1 with the weights of seed 2 and seed 2 with the stream of seed 1 are then one run: the
    same model at the end, bit for bit. Its step-0 codes are seed 2's and not seed 1's (the weights moved),
    and its end is not seed 2's (the stream did not)."""
    def run(seed: int, **offsets: int) -> Path:
        spec = make_spec(config, epochs=2, seed=seed)
        if offsets:
            spec["training"]["seed_offsets"] = offsets
        out = tmp_path / f"seed{seed}-{'-'.join(f'{k}{v}' for k, v in offsets.items())}"
        fit(spec, splits, out, progress=False)
        return out

    base = make_spec(config)
    splits = load("pendulum", base["data_root"], base["dataset_args"])
    moved_weights, moved_stream = run(1, weights=1), run(2, stream=-1)
    seed1, seed2 = run(1), run(2)
    assert_same_models(moved_weights / "model.pt", moved_stream / "model.pt")

    def step0_codes(folder: Path) -> np.ndarray:
        with np.load(folder / "snapshots.npz") as f:
            return f["mu"][list(f["step"]).index(0)]

    np.testing.assert_array_equal(step0_codes(moved_weights), step0_codes(seed2))
    assert not np.array_equal(step0_codes(moved_weights), step0_codes(seed1))
    with pytest.raises(AssertionError):
        assert_same_models(moved_weights / "model.pt", seed2 / "model.pt")


def test_a_run_without_snapshot_steps_is_evaluated_without_their_readouts(config, tmp_path):
    """`snapshot_steps: []` publishes an empty snapshots.npz, which the evaluate rule still passes on."""
    spec = make_spec(config, epochs=1)
    spec["training"]["snapshot_steps"] = []
    fit(spec, load("pendulum", spec["data_root"], spec["dataset_args"]), tmp_path, progress=False)
    metrics = evaluate_run(tmp_path / "model.pt", tmp_path / "snapshots.npz")
    assert metrics["snapshots"] == [] and metrics["ols"]["abs_error"] > 0


def test_learning_rate_stages_follow_burda():
    stages = [[3**i, 1e-3 * 10 ** (-i / 7)] for i in range(8)]
    assert sum(n for n, _ in stages) == 3280
    assert lr_at(0, 5.0, stages) == pytest.approx(1e-3)
    assert lr_at(1, 5.0, stages) == pytest.approx(1e-3 * 10 ** (-1 / 7))
    assert lr_at(3, 5.0, stages) == pytest.approx(1e-3 * 10 ** (-1 / 7))
    assert lr_at(4, 5.0, stages) == pytest.approx(1e-3 * 10 ** (-2 / 7))
    assert lr_at(3279, 5.0, stages) == pytest.approx(1e-4)
    assert lr_at(5000, 5.0, stages) == pytest.approx(1e-4)
    assert lr_at(7, 5.0, None) == lr_at(7, 5.0, []) == 5.0


def test_packed_adam_is_torch_adam_and_holds_the_prior_per_run(config):
    """PackedAdam against torch.optim.Adam on the same gradients: equal updates where the prior trains,
    and a held run's prior left exactly as it was (REWO's initial phase)."""
    from vhp_core.runs.packed import PackedAdam, PackedModel
    spec = make_spec(config)
    torch.manual_seed(0)
    models = [build_model(spec, 256) for _ in range(2)]
    packed = PackedModel(models)
    adam = PackedAdam(packed, [1e-2, 1e-2])
    reference = torch.optim.Adam(models[0].parameters(), lr=1e-2)
    before = packed.state_dict(1)
    for _ in range(3):
        grads = {n: torch.randn_like(p) for n, p in packed.params.items()}
        adam.zero_grad()
        for n, p in packed.params.items():
            p.grad.copy_(grads[n])
        adam.step(torch.tensor([True, False]))
        for n, p in models[0].named_parameters():
            p.grad = grads[n][0].clone()
        reference.step()
    for n, p in models[0].named_parameters():
        torch.testing.assert_close(packed.params[n][0].detach(), p.detach(), rtol=1e-6, atol=1e-7, msg=n)
    after = packed.state_dict(1)
    for n in packed.names:
        assert torch.equal(after[n], before[n]) == n.startswith("prior."), n


def test_learning_curves_leave_training_unchanged_and_match_the_published_model(config, tmp_path):
    """A curve point every epoch changes no parameter of the run (its draws come from a seed of their
    own), and the last point is the NLL estimate of the published model with the same draws."""
    spec = make_spec(config, epochs=3)
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    fit(spec, splits, tmp_path / "plain", progress=False)
    with_curves = {**spec, "curves": {"every_epochs": 1, "samples": 7, "n_items": 30}}
    fit(with_curves, splits, tmp_path / "curves", progress=False)
    assert_same_models(tmp_path / "plain" / "model.pt", tmp_path / "curves" / "model.pt")
    assert not (tmp_path / "plain" / "curve.csv").exists()
    curve = rows(tmp_path / "curves" / "curve.csv")
    assert [int(r["epoch"]) for r in curve] == [1, 2, 3] and {r["n_items"] for r in curve} == {"30"}
    model, _ = load_model(tmp_path / "curves" / "model.pt", "cpu")
    torch.manual_seed(train.CURVE_SEED)
    expected = importance_sampled_nll(model, splits.test[nll_subset(len(splits.test), 30)], samples=7).mean()
    assert float(curve[-1]["nll"]) == pytest.approx(float(expected), rel=1e-6)
    assert float(curve[0]["nll"]) > float(curve[-1]["nll"])  # three epochs of training lower the estimate


@pytest.mark.fault("config")
def test_counts_above_what_the_data_hold_stop_before_training_and_before_an_nll(config, tmp_path):
    """train_items, snapshot_points, batch_size and the curves' n_items above the split's size are named together
    before the first step (they were capped silently while the saved spec kept them); so is an NLL's
    n_items above the test set, before the estimate."""
    spec = make_spec(config, epochs=1)
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    n_train, n_test = len(splits.train), len(splits.test)
    spec["training"] |= {"train_items": n_train + 1, "snapshot_points": n_test + 1, "batch_size": n_train + 2}
    spec["curves"] = {"every_epochs": 1, "samples": 2, "n_items": n_test + 5}
    with pytest.raises(ConfigError) as error:
        fit(spec, splits, tmp_path / "too_many", progress=False)
    assert str(error.value) == (
        f"datasets/pendulum/training/train_items = {n_train + 1} is more than the {n_train} training items of "
        f"'pendulum': lower it; datasets/pendulum/training/snapshot_points = {n_test + 1} is more than the "
        f"{n_test} test items of 'pendulum': lower it; datasets/pendulum/curves/n_items = {n_test + 5} is more "
        f"than the {n_test} test items of 'pendulum': lower it or set it to null (all); "
        f"datasets/pendulum/training/batch_size = {n_train + 2} is more than the {n_train} items it trains on: "
        "lower it")
    assert not (tmp_path / "too_many").exists()

    fit(make_spec(config, epochs=1), splits, tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match=f"datasets/pendulum/nll/n_items = {n_test + 1} is more than the {n_test} "
                                          "test items"):
        evaluate_nll(tmp_path / "run" / "model.pt", samples=2, n_items=n_test + 1)
    assert evaluate_nll(tmp_path / "run" / "model.pt", samples=2, n_items=n_test)["n_items"] == n_test


PACK_PAGE_FAULTS = """
import resource, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import train_benchmark as tb
from vhp_core.runs import train
from vhp_core.runs.config import load_config
specs = [tb.run_spec(load_config(tb.CONFIG), "pendulum", "vhp_rewo", seed, 1) for seed in (1, 2)]
for spec in specs:
    spec["training"].update(epochs=1, train_items=4000)
    spec["runtime"] = {**spec["runtime"], "log_every": 10}
faults = []
log_point = train._Trainer._log_point
def counted(self, *args, **kwargs):
    log_point(self, *args, **kwargs)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
train._Trainer._log_point = counted
with tempfile.TemporaryDirectory() as tmp:
    train.fit_pack(specs, tb.synthetic_splits("pendulum", 4000), [Path(tmp) / str(s["seed"]) for s in specs],
                   progress=False)
print(max(b - a for a, b in zip(faults[1:], faults[2:])) / 10)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="counts glibc malloc's page faults")
def test_training_reuses_freed_memory_instead_of_faulting_it_back_in():
    """A pack of 2 pendulum VHP + REWO runs at the default architecture (K = 16: 1,600-row prior
    activations) in a fresh interpreter: after the first log point a step faults (almost) no pages,
    as `tune_cpu_process` has malloc keep freed memory. Without it, 2,000-2,200 faults per step."""
    benchmarks = Path(__file__).resolve().parent.parent / "benchmarks"
    out = subprocess.run([sys.executable, "-c", PACK_PAGE_FAULTS, str(benchmarks)], check=True,
                         capture_output=True, text=True).stdout
    assert float(out) < 100, f"{out.strip()} page faults per training step"
