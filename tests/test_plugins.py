"""A prior from the user's own module, with no edit to the suite: the registries, the config's `plugins`,
entry points, and the example of docs/new_prior.md through the smoke Table 2 DAG."""
import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from vhp_core.maths.priors import PRIORS
from vhp_core.registry import Registry, UnknownName
from vhp_core.runs.config import ConfigError, deep_merge, expand_likes, load_config, resolve_run, validate
from vhp_core.runs.train import build_model

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "tests" / "plugins" / "my_priors.py"
GUIDE = (ROOT / "docs" / "new_prior.md").read_text()
MIRROR = ROOT.parent / "shared" / "data"


def guide_block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", GUIDE, re.S)
    assert blocks, language
    return blocks[0]


def guide_overlay() -> dict:
    return yaml.safe_load(guide_block("yaml"))


def test_the_guide_shows_the_plugin_the_tests_run():
    assert guide_block("python") == PLUGIN.read_text()
    assert 20 <= len(PLUGIN.read_text().splitlines()) <= 30


def test_a_registry_refuses_a_name_twice_and_lists_its_names():
    parts: Registry[object] = Registry("widgets")
    one, two = object(), object()
    parts.register("a")(one)
    parts.register("a")(one)  # the same part again (a module imported twice) is harmless
    with pytest.raises(ValueError, match="'a' is registered twice"):
        parts.register("a")(two)
    with pytest.raises(UnknownName, match=r"'b' is not a registered widget; registered: \['a'\]"):
        parts["b"]


def test_a_plugin_from_the_working_directory_makes_its_prior_usable(smoke_config, tmp_path, monkeypatch):
    shutil.copy(PLUGIN, tmp_path / "my_priors.py")
    monkeypatch.chdir(tmp_path)
    if "my_priors" not in sys.modules:  # not yet imported by another test: without `plugins` the prior is unknown
        config = deep_merge(smoke_config, {k: v for k, v in guide_overlay().items() if k != "plugins"})
        expand_likes(config)
        with pytest.raises(ConfigError, match="methods/learned_gaussian/prior: 'learned_gaussian' is not a regist"):
            validate(config)
    config = deep_merge(smoke_config, guide_overlay())
    expand_likes(config)
    validate(config)
    spec = resolve_run(config, "dynamic_mnist", "learned_gaussian", 1)
    assert spec["plugins"] == ["my_priors"] and spec["schedule"]["name"] == "rewo" and spec["k"] == 1
    model = build_model(spec, 784)
    z = torch.randn(5, spec["model"]["latent_dim"])
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)  # the prior starts at N(0, I)
    assert torch.allclose(model.prior.log_prob_iw(z, 1), expected, atol=1e-5)
    assert {id(p) for p in model.prior_parameters()} == {id(model.prior.mean), id(model.prior.logvar)}
    bad = copy.deepcopy(config)
    bad["methods"]["learned_gaussian"]["prior_args"] = {"init_logvr": 1.0}
    with pytest.raises(ConfigError, match="did you mean 'init_logvar'"):
        validate(bad)


def test_an_installed_entry_point_registers_a_prior(tmp_path, monkeypatch):
    """An installed package's `vhp_bench.priors` entry point, naming a class its module does not register."""
    (tmp_path / "ep_priors.py").write_text(
        "from vhp_core.maths.priors import StandardNormal\n\n\nclass Shifted(StandardNormal):\n    pass\n")
    info = tmp_path / "ep_priors-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-priors\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[vhp_bench.priors]\nshifted = ep_priors:Shifted\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    priors = Registry("priors")  # a fresh registry reads the entry points again
    assert "shifted" in priors and priors["shifted"].__name__ == "Shifted"
    assert {"mog", "vampprior"} <= set(priors.names())  # the suite's own entry points
    assert {"mog", "vampprior"} <= set(PRIORS.names())


def test_a_plugin_can_bring_a_whole_method(smoke_config, tmp_path, monkeypatch):
    """A plugin registers a method (a config entry) beside its prior; a config lists it in a table without
    defining it, and an entry of the config's own wins over the registered one."""
    prior = PLUGIN.read_text().replace('@PRIORS.register("learned_gaussian")', '@PRIORS.register("learned_gaussian_2")')
    (tmp_path / "my_method.py").write_text(prior + (
        "\n\nfrom vhp_core.runs.config import METHODS\n\n"
        "METHODS.register('learned_gaussian_geco')({'label': 'Learned Gaussian + GECO', 'prior': 'learned_gaussian_2',"
        " 'objective': 'elbo', 'k': 1, 'schedule': {'name': 'geco', 'nu': 1.0, 'beta_init': 1.0}})\n"
    ))
    monkeypatch.chdir(tmp_path)
    overlay = {"plugins": ["my_method"], "tables": {"table2": {"methods": ["vhp_rewo", "learned_gaussian_geco"]}}}
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(overlay))
    config = load_config(ROOT / "workflow" / "config" / "config.yaml", ROOT / "workflow" / "config" / "smoke.yaml",
                         tmp_path / "my.yaml")
    spec = resolve_run(config, "dynamic_mnist", "learned_gaussian_geco", 1)
    assert spec["schedule"]["name"] == "geco" and spec["prior"] == "learned_gaussian_2"
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({"methods": {"learned_gaussian_geco": {
        "label": "mine", "prior": "standard_normal", "objective": "elbo", "k": 1,
        "schedule": {"name": "constant", "beta_init": 1.0}}}}))
    config = load_config(ROOT / "workflow" / "config" / "config.yaml", ROOT / "workflow" / "config" / "smoke.yaml",
                         tmp_path / "my.yaml", tmp_path / "mine.yaml")
    assert config["methods"]["learned_gaussian_geco"]["label"] == "mine"


@pytest.mark.slow
@pytest.mark.skipif(not MIRROR.exists(), reason=f"the data mirror {MIRROR} is not on this machine")
def test_the_guides_prior_runs_through_the_smoke_table2_dag(tmp_path):
    """The guide's module and config file, as a user would place them, with no edit inside the suite."""
    for name in ("Snakefile", "environment.yml"):
        shutil.copy(ROOT / name, tmp_path)
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copy(PLUGIN, tmp_path / "my_priors.py")
    (tmp_path / "my_prior.yaml").write_text(guide_block("yaml"))
    (tmp_path / "small.yaml").write_text("tables: {table2: {datasets: [dynamic_mnist], "
                                         "methods: [vhp_rewo, learned_gaussian]}}\n")
    run = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "table2", "--configfile",
                          "workflow/config/config.yaml", "workflow/config/smoke.yaml", "my_prior.yaml", "small.yaml"],
                         cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "VHP_DATA_MIRROR": str(MIRROR)})
    assert run.returncode == 0, run.stderr[-3000:]
    table = pd.read_csv(tmp_path / "results" / "tables" / "table2.csv").set_index("method")
    assert table.loc["learned_gaussian", "label"] == "Learned Gaussian + REWO"
    assert table.loc["learned_gaussian", "nll_mean"] > 50 and table.loc["vhp_rewo", "nll_mean"] > 50
    units = pd.read_csv(tmp_path / "results" / "tables" / "active_units.csv").set_index("method")
    assert 0 <= units.loc["learned_gaussian", "active_units"] <= units.loc["learned_gaussian", "latent_dim"]
