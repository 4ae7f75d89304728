"""pyproject.toml and environment.yml list the same dependencies with the same bounds; the package
installs (not editable) and runs the workflow from outside the repository."""
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _split(requirement: str) -> tuple[str, str]:
    name, bound = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), bound.replace(" ", "")


def test_conda_environment_matches_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = dict(_split(r) for r in pyproject["project"]["dependencies"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda = dict(_split(d.replace("=", "==", 1) if re.match(r"^[\w\-]+=[^=]", d) else d)
                 for d in env if isinstance(d, str))
    pip = dict(_split(d.replace("+cpu", "")) for d in next(d["pip"] for d in env if isinstance(d, dict))
               if not d.startswith("-"))
    listed = {**{k: v for k, v in conda.items() if k not in ("python", "pip")}, **pip}
    assert listed == wanted


def test_the_conda_environment_takes_the_cpu_build_of_torch():
    pip = next(d["pip"] for d in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
               if isinstance(d, dict))
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in pip and "torch==2.13.0+cpu" in pip


def test_the_lock_file_pins_every_dependency_within_pyprojects_bounds():
    """requirements.lock (pip constraints of `make setup`) pins an exact version of every dependency and
    extra but torch, each inside pyproject.toml's bounds, and nothing from a local path."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*pyproject["dependencies"], *(r for extra in pyproject["optional-dependencies"].values() for r in extra)]
    lines = [ln for ln in (ROOT / "requirements.lock").read_text().splitlines() if ln and not ln.startswith("#")]
    pins = {}
    for line in lines:
        name, version = line.split("==")
        pins[canonicalize_name(name)] = version
    for requirement in map(Requirement, wanted):
        if requirement.name == "torch":
            continue
        assert requirement.specifier.contains(pins[canonicalize_name(requirement.name)]), requirement
    assert "torch" not in pins and "-c requirements.lock" in (ROOT / "Makefile").read_text()


def test_license_and_citation_agree_with_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert pyproject["license"] == citation["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert citation["version"] == pyproject["version"]
    assert citation["preferred-citation"]["title"] == "Learning Hierarchical Priors in VAEs"
    assert yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())["usage"]["report"] is True


@pytest.mark.slow
def test_a_non_editable_install_runs_the_smoke_dag_outside_the_repository(tmp_path):
    """`pip install .` (no -e) into a fresh virtual environment, then the smoke Table 1 from a folder
    holding only the workflow: the package, its configs, schema and checksums come from the install."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "results", "data", ".snakemake",
                                                                  "*.egg-info", "__pycache__", "build"))
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    # The dependencies (torch and the rest) come from this test's environment, not from the network.
    site = subprocess.run([env / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([env / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps", str(source)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    work = tmp_path / "work"
    work.mkdir()
    for name in ("Snakefile", "environment.yml"):
        shutil.copy(ROOT / name, work)
    shutil.copytree(ROOT / "workflow", work / "workflow", ignore=shutil.ignore_patterns("__pycache__"))
    path = {**os.environ, "PATH": f"{env / 'bin'}:{os.environ['PATH']}"}
    probe = subprocess.run(["python", "-c", "import vhp_core, vhp_core.baselines, importlib.util as u\n"
                            "from vhp_core.maths.priors import PRIORS\n"
                            "print(vhp_core.__file__, u.find_spec('baselines'), PRIORS.names())"],
                           cwd=work, env=path, capture_output=True, text=True, check=True).stdout
    assert probe.startswith(site) and " None " in probe and "'vampprior'" in probe and "'mog'" in probe
    configs = subprocess.run(["vhp-bench", "configs"], cwd=work, env=path, capture_output=True, text=True, check=True)
    assert configs.stdout.split() == sorted(p.name for p in (ROOT / "workflow" / "config").glob("*.yaml"))
    (work / "small.yaml").write_text("tables: {table1: {seeds: [1], methods: [vhp_rewo, vhp]}}\n")
    run = subprocess.run(["python", "-m", "snakemake", "--cores", "2", "table1", "--configfile",
                          "workflow/config/smoke.yaml", "small.yaml"],
                         cwd=work, env=path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    table = pd.read_csv(work / "results" / "tables" / "table1.csv")
    assert list(table["method"]) == ["vhp_rewo", "vhp"] and table["abs_error_mean"].between(0, 3.1416).all()
