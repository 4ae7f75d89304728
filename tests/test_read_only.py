"""A read-only results folder stops a job before its work, naming the folder, and leaves the finished files
in it as they were (tested on a real read-only bind mount: root ignores permission bits)."""
import ast
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "vhp_core"]


def why_no_read_only_mount() -> str | None:
    if not shutil.which("unshare"):
        return "unshare is not installed"
    mount = "mount --bind /mnt /mnt && mount -o remount,ro,bind /mnt"
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", mount], capture_output=True, text=True)
    why = f"cannot bind-mount read-only in a private namespace: {probe.stderr.strip()}"
    return None if probe.returncode == 0 else why


pytestmark = pytest.mark.skipif(why_no_read_only_mount() is not None, reason=str(why_no_read_only_mount()))


def read_only(folder: Path, *command: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `command` with `folder` mounted read-only (in a private mount namespace)."""
    script = f'mount --bind "{folder}" "{folder}" && mount -o remount,ro,bind "{folder}" && exec "$@"'
    return subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", *command], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("read_only")
    subprocess.run([*CLI, "prepare", "--dataset", "pendulum", "--config", "smoke.yaml"], cwd=work, check=True,
                   capture_output=True)
    subprocess.run([*CLI, "train", "--dataset", "pendulum", "--method", "vhp_rewo", "--run-dir", "run", "--config",
                    "smoke.yaml"], cwd=work, check=True, capture_output=True)
    subprocess.run([*CLI, "evaluate", "--run-dir", "run"], cwd=work, check=True, capture_output=True)
    return work


@pytest.mark.fault("read_only")
@pytest.mark.slow
@pytest.mark.parametrize("command", [["evaluate"], ["nll", "--samples", "500", "--config", "smoke.yaml"]])
def test_evaluating_into_a_read_only_run_folder_stops_before_the_work(finished_run, command):
    """`vhp-bench evaluate` and `nll` on a finished run whose folder is read-only: exit 1 before any
    evaluation, the folder named; the run's files are unchanged."""
    run = finished_run / "run"
    before = digests(run)
    result = read_only(run, *CLI, *command, "--run-dir", "run", cwd=finished_run)
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"NotWritableError: [Errno 30] run is not writable (Read-only file system): vhp-bench {command[0]}" \
           in result.stderr
    assert "nll:" not in result.stderr and "%|" not in result.stderr  # no estimate started
    assert digests(run) == before


@pytest.mark.fault("read_only")
@pytest.mark.slow
def test_training_into_a_read_only_results_folder_stops_before_loading_data(finished_run):
    results = finished_run / "results"
    results.mkdir(exist_ok=True)
    result = read_only(results, *CLI, "train", "--dataset", "pendulum", "--method", "vhp_geco", "--run-dir",
                       "results/geco", "--config", "smoke.yaml", cwd=finished_run)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "results/geco is not writable (Read-only file system): training vhp_geco/seed1 writes there" \
           in result.stderr
    assert list(results.iterdir()) == []


@pytest.mark.fault("read_only")
def test_a_workflow_job_whose_output_folder_is_read_only_stops_before_its_work(tmp_path):
    """The start of every workflow script checks each output's folder (Snakemake creates a missing one
    itself, but an existing read-only one would fail the job only at its last write)."""
    tables = tmp_path / "results" / "tables"
    tables.mkdir(parents=True)
    (tables / "table1.csv").write_text("finished\n")
    job = (
        "import sys; from types import SimpleNamespace\n"
        f"sys.path.insert(0, '{ROOT / 'workflow' / 'scripts'}')\n"
        "from common import start\n"
        f"start(SimpleNamespace(rule='table1', log=['{tmp_path}/table1.log'], "
        f"output=['{tables}/table1.csv', '{tables}/table1.md']))\n"
        "print('the work began')\n"
    )
    result = read_only(tables, sys.executable, "-c", job, cwd=tmp_path)
    assert result.returncode == 1 and "the work began" not in result.stdout
    log = (tmp_path / "table1.log").read_text()  # the rule's log, which Snakemake names when the job fails
    assert f"{tables} is not writable (Read-only file system): rule table1 writes there" in log
    assert (tables / "table1.csv").read_text() == "finished\n" and sorted(p.name for p in tables.iterdir()) == [
        "table1.csv"]


def test_every_workflow_script_checks_its_outputs_before_its_work():
    """Each script's first statement after its docstring and imports is `start(snakemake)`."""
    for script in sorted((ROOT / "workflow" / "scripts").glob("*.py")):
        if script.name == "common.py":
            continue
        body = [node for node in ast.parse(script.read_text()).body
                if not isinstance(node, ast.Import | ast.ImportFrom)
                and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
        assert ast.unparse(body[0]) == "start(snakemake)", f"{script.name} begins with {ast.unparse(body[0])!r}"
