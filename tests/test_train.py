"""The training loop: a killed run resumes to exactly the uninterrupted result; a NaN loss, a
corrupt checkpoint or a changed config are handled without losing or faking finished work."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from vhp_core import objectives, train
from vhp_core.config import resolve_run
from vhp_core.datasets import load
from vhp_core.evaluate import evaluate_run
from vhp_core.io import sha256_file
from vhp_core.schedules import build_schedule
from vhp_core.train import CheckpointError, NonFiniteLossError, build_model, fit, load_model, lr_at

pytestmark = pytest.mark.slow


def make_spec(config: dict, method: str = "vhp_rewo", epochs: int = 3) -> dict:
    spec = resolve_run(config, "pendulum", method, 1)
    spec["training"]["epochs"] = epochs
    return spec


def test_killed_run_resumes_to_the_same_result(config, tmp_path):
    epochs = 40
    config["datasets"]["pendulum"]["training"]["epochs"] = epochs
    spec = make_spec(config, epochs=epochs)
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    fit(spec, splits, tmp_path / "whole", progress=False)

    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "vhp_core", "train", "--config", str(config_file), "--dataset", "pendulum",
           "--method", "vhp_rewo", "--seed", "1", "--run-dir", str(tmp_path / "killed")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    epochs_csv = tmp_path / "killed" / "work" / "epochs.csv"
    deadline = time.time() + 120
    while time.time() < deadline and (not epochs_csv.exists() or len(epochs_csv.read_text().splitlines()) < 4):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(epochs_csv.read_text().splitlines()) - 1
    assert 3 <= done < epochs and not (tmp_path / "killed" / "model.pt").exists(), "the kill must land mid-run"

    fit(spec, splits, tmp_path / "killed", progress=False)
    whole, _ = load_model(tmp_path / "whole" / "model.pt")
    resumed, _ = load_model(tmp_path / "killed" / "model.pt")
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert (tmp_path / "whole" / "train_log.csv").read_text() == (tmp_path / "killed" / "train_log.csv").read_text()
    m_whole, m_resumed = evaluate_run(tmp_path / "whole" / "model.pt"), evaluate_run(tmp_path / "killed" / "model.pt")
    for key in ("test_neg_elbo_k10", "ols", "final_beta", "steps"):
        assert m_whole[key] == m_resumed[key], key


def test_nan_loss_stops_and_keeps_finished_results(config, tmp_path, monkeypatch):
    spec = make_spec(config, epochs=2)
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    fit(spec, splits, tmp_path, progress=False)
    finished = sha256_file(tmp_path / "model.pt")

    calls = {"n": 0}
    real = objectives.OBJECTIVES["elbo"]

    def poisoned(model, x, k):
        calls["n"] += 1
        terms = real(model, x, k)
        if calls["n"] > 15:
            terms.rec = terms.rec * float("nan")
        return terms

    monkeypatch.setitem(objectives.OBJECTIVES, "elbo", poisoned)
    spec["training"]["lr"] = 2e-3  # a changed config: the old checkpoint is set aside, training restarts
    message = r"vhp_rewo/seed1: loss is nan at step 15 \(epoch 1;.*expected a finite"
    with pytest.raises(NonFiniteLossError, match=message):
        fit(spec, splits, tmp_path, progress=False)
    assert sha256_file(tmp_path / "model.pt") == finished
    assert torch.load(tmp_path / "work" / "checkpoint.pt", weights_only=False)["epoch"] == 1


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


def test_changed_config_restarts_instead_of_resuming(config, tmp_path):
    spec = make_spec(config, epochs=2)
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    fit(spec, splits, tmp_path / "a", progress=False)
    spec["training"]["lr"] = 3e-3
    fit(spec, splits, tmp_path / "a", progress=False)
    fit(spec, splits, tmp_path / "b", progress=False)
    assert (tmp_path / "a" / "work" / "checkpoint.stale.pt").exists()
    assert Path(tmp_path / "a" / "train_log.csv").read_text() == Path(tmp_path / "b" / "train_log.csv").read_text()


def test_rewo_initial_phase_leaves_the_prior_untouched(config, tmp_path):
    spec = make_spec(config, epochs=1)
    spec["kappa"] = 1e-3  # unreachable: the whole run is the initial phase
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


def test_the_prior_is_initialised_from_the_codes_of_its_first_update(config):
    spec = make_spec(config, epochs=1)
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    model = build_model(spec, splits.data_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.0)
    x = splits.train[:100]
    late = build_schedule(spec["schedule"], 1e-3, splits.data_dim)  # REWO, kappa unreachable: initial phase
    train._step(model, optimizer, objectives.OBJECTIVES["elbo"], late, model.prior_parameters(), x, 2, 0.0)
    assert model.prior.awaiting_data
    now = build_schedule(spec["schedule"], 30.0, splits.data_dim)  # C_hat < kappa^2 at once: main phase
    train._step(model, optimizer, objectives.OBJECTIVES["elbo"], now, model.prior_parameters(), x, 2, 0.0)
    mu, std = model.encode_mean(x)
    assert not model.prior.awaiting_data and torch.allclose(model.prior.loc, mu.mean(0))
    assert torch.allclose(model.prior.log_scale.exp() ** 2, mu.var(0, correction=0) + std.pow(2).mean(0))


def test_early_stopping_publishes_the_best_validation_epoch(config, tmp_path, monkeypatch):
    """Validation scores are scripted (and draw no random numbers, so both runs see the same stream)."""
    splits = load("pendulum", config["data"]["root"], config["datasets"]["pendulum"]["args"])
    monkeypatch.setattr(train, "neg_elbo", lambda model, x, k: 0.0)
    fit(make_spec(config, "vhp", epochs=2), splits, tmp_path / "ref", progress=False)  # exactly 2 epochs

    scripted = iter([5.0, 4.0, 4.5, 4.6, 4.7, 4.8])  # best after epoch 2, then no improvement
    monkeypatch.setattr(train, "neg_elbo", lambda model, x, k: next(scripted))
    spec = make_spec(config, "vhp", epochs=10)
    spec["training"]["early_stopping_patience"] = 2
    summary = fit(spec, splits, tmp_path / "stopped", progress=False)
    assert summary["epochs_run"] == 4 and summary["best_valid_epoch"] == 2
    best, _ = load_model(tmp_path / "stopped" / "model.pt")
    ref, _ = load_model(tmp_path / "ref" / "model.pt")
    for (name, a), b in zip(best.state_dict().items(), ref.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_early_stopping_waits_until_beta_has_settled(config, tmp_path, monkeypatch):
    """REWO on the pendulum is still far from beta = 1 after 4 epochs (400 steps): a validation -ELBO
    that only worsens must neither stop the run nor pick an epoch as the best."""
    splits = load("pendulum", config["data"]["root"], config["datasets"]["pendulum"]["args"])
    scripted = iter([1.0, 2.0, 3.0, 4.0])
    monkeypatch.setattr(train, "neg_elbo", lambda model, x, k: next(scripted))
    spec = make_spec(config, "vhp_rewo", epochs=4)
    spec["training"]["early_stopping_patience"] = 1
    summary = fit(spec, splits, tmp_path / "rewo", progress=False)
    assert summary["final_beta"] < 0.99
    assert summary["epochs_run"] == 4 and summary["best_valid_epoch"] == 0


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
