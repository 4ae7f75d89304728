"""One training per run folder at a time: a second one stops naming the holder; stale locks are taken over;
and a command-line NLL killed midway leaves nothing that looks finished."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vhp_core.datasets import load
from vhp_core.runs.config import resolve_run
from vhp_core.runs.lock import STALE_SECONDS, RunLock, RunLockedError
from vhp_core.runs.train import fit

ROOT = Path(__file__).resolve().parent.parent


def write_lock(run_dir: Path, pid: int, host: str, age: float = 0.0) -> Path:
    path = run_dir / "work" / "lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "host": host, "since": "earlier"}))
    os.utime(path, (time.time() - age, time.time() - age))
    return path


@pytest.fixture
def sleeper():
    process = subprocess.Popen(["sleep", "60"])
    yield process.pid
    process.kill()
    process.wait()


@pytest.mark.fault("concurrency")
def test_a_live_holder_on_this_host_is_named(tmp_path, sleeper):
    write_lock(tmp_path, sleeper, socket.gethostname(), age=STALE_SECONDS * 2)  # old but alive: still held
    with pytest.raises(RunLockedError, match=f"{tmp_path} is being trained by PID {sleeper} on "
                                             f"{socket.gethostname()}.*delete {tmp_path / 'work' / 'lock'}"):
        RunLock(tmp_path).acquire()


@pytest.mark.fault("concurrency")
def test_a_dead_holder_on_this_host_is_taken_over(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    write_lock(tmp_path, gone.pid, socket.gethostname())
    with RunLock(tmp_path) as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert not lock.path.exists()


@pytest.mark.fault("concurrency")
def test_a_lock_deleted_by_hand_is_written_again_at_the_next_refresh(tmp_path):
    with RunLock(tmp_path) as lock:
        lock.path.unlink()
        lock.refresh()
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert not lock.path.exists()


@pytest.mark.parametrize("age, held", [(60.0, True), (STALE_SECONDS + 60.0, False)])
def test_another_hosts_lock_holds_until_it_is_stale(tmp_path, age, held):
    write_lock(tmp_path, 1, "another-node", age=age)
    if held:
        with pytest.raises(RunLockedError, match="PID 1 on another-node"):
            RunLock(tmp_path).acquire()
    else:
        with RunLock(tmp_path):
            pass


@pytest.mark.fault("concurrency")
def test_training_refuses_a_locked_run_and_touches_nothing(config, tmp_path, sleeper):
    spec = resolve_run(config, "pendulum", "vhp_rewo", 1)
    spec["training"]["epochs"] = 1
    splits = load("pendulum", spec["data_root"], spec["dataset_args"])
    lock = write_lock(tmp_path, sleeper, socket.gethostname())
    with pytest.raises(RunLockedError, match=f"PID {sleeper}"):
        fit(spec, splits, tmp_path, progress=False)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["lock"] and lock.exists()
    lock.unlink()
    fit(spec, splits, tmp_path, progress=False)
    assert (tmp_path / "model.pt").exists() and not lock.exists()


@pytest.mark.fault("concurrency")
@pytest.mark.slow
def test_two_command_line_trainings_of_one_run(tmp_path):
    """The second stops at once, naming the first; the first's log has every step once."""
    config = tmp_path / "long.yaml"
    config.write_text("datasets: {pendulum: {training: {epochs: 40}}}\n")
    command = [sys.executable, "-m", "vhp_core", "train", "--dataset", "pendulum", "--method", "vhp_rewo",
               "--run-dir", "run", "--config", "smoke.yaml", "--config", str(config)]
    subprocess.run([*command[:3], "prepare", "--dataset", "pendulum", "--config", "smoke.yaml"], cwd=tmp_path,
                   check=True)
    first = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / "run" / "work" / "lock"
    for _ in range(600):
        if lock.exists() and lock.read_text() and (tmp_path / "run" / "work" / "train_log.csv").exists():
            break
        time.sleep(0.1)
    second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-2000:]
    assert second.returncode != 0 and f"is being trained by PID {first.pid}" in second.stderr
    steps = [line.split(",")[0] for line in (tmp_path / "run" / "train_log.csv").read_text().splitlines()[1:]]
    assert len(steps) == len(set(steps)) > 0


@pytest.mark.fault("interruption")
@pytest.mark.slow
def test_an_nll_killed_midway_leaves_no_result_and_its_rerun_equals_an_uninterrupted_one(tmp_path):
    """kill -9 during `vhp-bench nll`: no nll.json (nor a temporary file) is left; the rerun's estimate is
    bit-identical to an uninterrupted evaluation's."""
    cli = [sys.executable, "-m", "vhp_core"]
    subprocess.run([*cli, "prepare", "--dataset", "pendulum", "--config", "smoke.yaml"], cwd=tmp_path, check=True)
    subprocess.run([*cli, "train", "--dataset", "pendulum", "--method", "vhp_rewo", "--run-dir", "run", "--config",
                    "smoke.yaml"], cwd=tmp_path, check=True, capture_output=True)
    nll = [*cli, "nll", "--run-dir", "run", "--samples", "2000", "--n-items", "250", "--config", "smoke.yaml"]
    killed = subprocess.Popen(nll, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(lambda: killed.stderr.read(1), "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while "%|" not in "".join(seen) and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # until the estimate's progress bar shows it under way
    killed.kill()
    killed.wait()
    assert killed.returncode == -9, "the NLL finished before it could be killed: give it more samples"
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.is_file()) == sorted(
        ["model.pt", "train_log.csv", "epochs.csv", "snapshots.npz"])
    first = subprocess.run(nll, cwd=tmp_path, capture_output=True, text=True, check=True)
    result = json.loads((tmp_path / "run" / "nll.json").read_text())
    again = subprocess.run(nll, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert first.returncode == again.returncode == 0
    repeat = json.loads((tmp_path / "run" / "nll.json").read_text())
    assert {k: v for k, v in result.items() if k != "seconds"} == {k: v for k, v in repeat.items() if k != "seconds"}
