"""pyproject.toml and environment.yml list the same dependencies with the same bounds."""
import re
import tomllib
from pathlib import Path

import yaml

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
    pip = dict(_split(d) for d in next(d["pip"] for d in env if isinstance(d, dict)) if not d.startswith("-"))
    listed = {**{k: v for k, v in conda.items() if k not in ("python", "pip")}, **pip}
    assert listed == wanted


def test_license_and_citation_agree_with_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert pyproject["license"] == citation["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert citation["version"] == pyproject["version"]
    assert citation["preferred-citation"]["title"] == "Learning Hierarchical Priors in VAEs"
    assert yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())["usage"]["report"] is True
