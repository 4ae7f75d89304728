"""The benchmark scripts run end to end at tiny sizes: the training benchmark writes its tables with
finite positive ratios; the GPU check stops with a one-line message without CUDA, runs every check's
code path on the CPU (--dry), and its sync guard names a host read inside an epoch."""
import dataclasses
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from vhp_core.runs import train

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load_script(name: str) -> ModuleType:
    """A script of benchmarks/ as a module (the folder is not a package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.mark.slow
def test_train_benchmark_writes_its_tables_with_finite_ratios(tmp_path, monkeypatch):
    """--quick at smaller packs (R = 1, 2) and NLL sizes, one thread, without the slow unflushed control."""
    tb = load_script("train_benchmark")
    monkeypatch.setattr(tb, "QUICK", dataclasses.replace(tb.QUICK, pack_sizes=(1, 2), mnist_pack_sizes=(2,),
                                                         nll_samples=100, nll_points=4, nll_reference_points=2))
    results = tb.main(["--quick", "--threads", "1", "--no-control", "--out-dir", str(tmp_path)])
    written = json.loads((tmp_path / "train_benchmark.json").read_text())
    table = (tmp_path / "train_benchmark.md").read_text()
    assert "% of matmul peak" in table and "packed / one by one" in table and "points/s" in table
    ratios = written["ratios"]
    assert len(ratios) == 8 + 3 + 1 + 3  # step cells, pack cells, compile (R = 2), GECO (+ all threads flushed), NLL
    assert "compiled / eager" in table and results["compile"][0]["arch"] == "pendulum"
    assert all(math.isfinite(v) and v > 0 for v in ratios.values()), ratios
    assert {(c["arch"], c["method"]) for c in results["step"]} == {
        (a, m) for a in ("mnist", "pendulum") for m in ("vhp_rewo", "vampprior", "iwae_l1", "vae")}
    assert results["geco"]["beta_1e-40"]["held_beta"] == pytest.approx(1e-40)
    assert results["geco_all_threads_flushed"]["denormals_flushed_after_fit"] == 1.0


def test_flop_count_of_the_mnist_vhp_step():
    """Linear layers of one VHP + REWO step on the MNIST architecture, per item: encoder 784-300-300-80,
    decoder 40-300-300-784, q_Phi 40-300-300-80 once and p_Theta 40-300-300-80 K = 16 times; x3, x2."""
    tb = load_script("train_benchmark")
    spec = tb.run_spec(tb.load_config(tb.CONFIG), "dynamic_mnist", "vhp_rewo", 1, 1)
    net = (40 * 300 + 300 * 300 + 300 * 80)
    macs = (784 * 300 + 300 * 300 + 300 * 80) + (40 * 300 + 300 * 300 + 300 * 784) + 17 * net
    assert tb.train_step_flops(spec, 784) == 3 * 2 * 100 * macs


def test_unflushed_block_turns_the_trainers_flush_off():
    tb = load_script("train_benchmark")
    with tb.denormals_unflushed():
        torch.set_flush_denormal(True)  # what fit_pack calls
        assert tb.denormals_flushed() == 0.0
    torch.set_flush_denormal(True)
    assert tb.denormals_flushed() > 0  # at least the calling thread flushes
    torch.set_flush_denormal(False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_gpu_check_without_cuda_exits_2_with_one_line():
    result = subprocess.run([sys.executable, str(BENCHMARKS / "gpu_check.py")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "no CUDA device" in result.stderr


@pytest.mark.slow
def test_gpu_check_dry_runs_every_check_on_the_cpu(tmp_path):
    gc = load_script("gpu_check")
    assert gc.main(["--device", "cpu", "--dry", "--out-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["ok"] and {c["check"] for c in report["checks"]} == {"train", "resume", "step", "cpu", "nll"}
    methods = gc.check_methods(gc.load_config(gc.tb.CONFIG))
    trained = {c["name"] for c in report["checks"] if c["check"] == "train"}
    assert {f"{d}/{m}" for d in gc.DATASETS for m in methods} <= trained
    resumed = [c for c in report["checks"] if c["check"] == "resume" and "cut at step" in c["detail"]]
    assert len(resumed) == 2 * 5 + 1  # the VHP variants on two datasets, IWAE alone on the pendulum
    projection = report["figures"]["table2_projection"]
    assert all(math.isfinite(projection[k]) and projection[k] > 0 for k in
               ("training_hours_one_by_one", "training_hours_vhp_packed", "nll_hours"))


@pytest.mark.slow
def test_gpu_check_guard_names_a_host_read_inside_an_epoch(tmp_path, monkeypatch):
    """A scalar read in the step (the CPU stand-in for a CUDA sync) fails the check with the trainer's
    line, and the runs are trained again without the guard."""
    gc = load_script("gpu_check")
    config = gc.load_config(gc.tb.CONFIG)
    spec = gc.check_spec(config, "dynamic_mnist", "vhp", "cpu", gc.DRY)
    splits = gc.tb.synthetic_splits("dynamic_mnist", 400, held=10)
    step = train._Trainer._step

    def reading_step(self, x, epoch):
        step(self, x, epoch)
        float(self.schedules.beta[0])

    monkeypatch.setattr(train._Trainer, "_step", reading_step)
    report = gc.Report()
    dirs = [tmp_path / "run"]
    gc.guarded_fit(report, "train", gc.SyncGuard(torch.device("cpu")), [spec], splits, dirs, fresh=True)
    (check,) = report.checks
    assert not check["ok"] and "train.py" in check["detail"] and "self._step(" in check["detail"]
    assert (tmp_path / "run" / "model.pt").exists()


def test_gpu_check_reports_a_failing_part_and_goes_on():
    """One broken part fails its check with the error and the project line, and the check goes on."""
    gc = load_script("gpu_check")
    report = gc.Report()
    with report.attempt("train", "pendulum/broken"):
        train.lr_at(0, 1e-3, [["one", 1e-3]])  # a malformed stage: a TypeError inside vhp_core
    (check,) = report.checks
    assert not check["ok"] and check["detail"].startswith("TypeError") and "vhp_core/runs/train.py" in check["detail"]
