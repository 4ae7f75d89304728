"""Bad config input stops with a message that names the key or value; names of registered parts are
checked by their registries alone (the schema lists none), and the error lists the registered names."""
import copy
import random

import pytest
import yaml
from conftest import CONFIGS

from vhp_core.maths.likelihoods import LIKELIHOODS
from vhp_core.maths.objectives import OBJECTIVES
from vhp_core.maths.priors import PRIORS
from vhp_core.maths.schedules import SCHEDULES
from vhp_core.runs.config import (
    SCHEMA,
    ConfigError,
    data_root,
    expand_likes,
    load_config,
    resolve_run,
    run_digest,
    run_grid,
    sensitivity_levels,
    validate,
)

BAD = [
    (lambda c: c.update(epochs=3), "(top level)", "'epochs' was unexpected"),
    (lambda c: c["datasets"].update(mnist=c["datasets"]["pendulum"]), "datasets/mnist", "not a registered dataset"),
    (lambda c: c["datasets"]["pendulum"]["training"].update(lr=-1), "datasets/pendulum/training/lr", "-1"),
    (lambda c: c["datasets"]["pendulum"]["model"].update(likelihood="poisson"), "model/likelihood", "'poisson'"),
    (lambda c: c["methods"]["vhp_rewo"]["schedule"].update(name="cosine"), "schedule/name", "'cosine'"),
    (lambda c: c["methods"]["vhp_rewo"]["schedule"].update(kappa2=2), "methods/vhp_rewo/schedule", "'kappa2'"),
    (lambda c: c["methods"]["vhp_rewo"]["schedule"].pop("tau"), "methods/vhp_rewo/schedule", "'tau'"),
    (lambda c: c["methods"]["vhp_rewo"]["schedule"].update(nu=-1), "methods/vhp_rewo/schedule", "nu = -1"),
    (lambda c: c["methods"]["vhp_rewo"]["schedule"].update(alpha=1.5), "methods/vhp_rewo/schedule/alpha", "1.5"),
    (lambda c: c.update(plugins=["no_such_plugin"]), "plugins", "'no_such_plugin'"),
    (lambda c: c["methods"]["vhp_rewo"].update(prior="flow"), "methods/vhp_rewo/prior", "'flow'"),
    (lambda c: c["methods"]["vhp_rewo"].update(objective="wake_sleep"), "objective", "'wake_sleep'"),
    (lambda c: c["tables"]["table1"]["methods"].append("vhp_x"), "tables/table1/methods", "'vhp_x'"),
    (lambda c: c["figures"]["training_dynamics"]["methods"].append("gecco"), "training_dynamics", "'gecco'"),
    (lambda c: c.update(device="tpu"), "device", "'tpu'"),
    (lambda c: c.update(seeds=[1, 1]), "seeds", "non-unique"),
    (lambda c: c["tables"]["table1"].update(seeds=[2, 2]), "tables/table1/seeds", "non-unique"),
    (lambda c: c["tables"]["table2"]["methods"].append(c["tables"]["table2"]["methods"][0]), "tables/table2/methods",
     "non-unique"),
    (lambda c: c["datasets"]["pendulum"]["args"].update(rod_widht=2.0), "datasets/pendulum/args/rod_widht",
     "did you mean 'rod_width'?"),
    (lambda c: c["datasets"]["pendulum"]["args"]["split"].update(tset=5), "datasets/pendulum/args/split/tset",
     "expected one of ['train', 'valid']"),
    (lambda c: c["datasets"]["dynamic_mnist"]["args"].update(binarise_seed=1), "dynamic_mnist/args/binarise_seed",
     "did you mean 'binarize_seed'?"),
    (lambda c: c["datasets"]["pendulum"]["prior_args"]["vhp"].update(zeta_dims=3),
     "prior_args of vhp_rewo on pendulum", "did you mean 'zeta_dim'?"),
    (lambda c: c["datasets"]["pendulum"]["prior_args"]["vhp"].pop("hidden"), "prior_args of vhp_rewo on pendulum",
     "missing ['hidden']"),
    (lambda c: c["datasets"]["pendulum"]["args"]["split"].update(valid=500), "datasets/pendulum/args",
     "leaves no test images"),
    (lambda c: c["datasets"]["pendulum"]["interpolation"].update(neighbours=200), "pendulum/interpolation/neighbours",
     "200 neighbours need more than 200 nodes"),
    (lambda c: c["runtime"].update(compile=["pendullum"]), "runtime/compile", "'pendullum' is not defined"),
    (lambda c: c["datasets"]["pendulum"]["interpolation"].update(pairs=[[0, 180], [90]]),
     "datasets/pendulum/interpolation/pairs", "pair [90]: expected [start, end] joint angles"),
    (lambda c: c["datasets"]["mocap"]["interpolation"]["pairs"].append(["walk", 0.5, "dance", 0.5]),
     "datasets/mocap/interpolation/pairs", "pair ['walk', 0.5, 'dance', 0.5]: expected [motion, position"),
    (lambda c: c["datasets"]["mocap"]["interpolation"]["pairs"].append(["walk", 0.5, "jog", 2]),
     "datasets/mocap/interpolation/pairs", "positions in [0, 1]"),
    (lambda c: c["datasets"]["dynamic_mnist"].update(interpolation=c["datasets"]["pendulum"]["interpolation"]),
     "datasets/dynamic_mnist/interpolation/pairs", "defines no interpolation endpoints"),
    (lambda c: c["figures"]["mocap_interpolation"].update(pair=4), "figures/mocap_interpolation/pair",
     "4 (0-based) is not one of the 4 pairs"),
    (lambda c: c["datasets"]["static_mnist"].pop("nll"), "tables/table2/datasets", "'static_mnist' has no"),
    (lambda c: c["tables"]["table1"]["datasets"].append("dynamic_mnist"), "tables/table1/datasets",
     "names 2 datasets"),
    (lambda c: c["tables"]["table1"].update(datasets=["dynamic_mnist"]), "tables/table1/datasets",
     "'dynamic_mnist' has no angle labels"),
    (lambda c: c["datasets"]["pendulum"]["prior_args"]["vhp"].update(standardise="flase"),
     "prior_args of vhp_rewo on pendulum", "/standardise: 'flase' is not of type bool"),
    (lambda c: c["datasets"]["pendulum"]["prior_args"]["vhp"].update(hidden=[64, "64"]),
     "prior_args of vhp_rewo on pendulum", "/hidden: [64, '64'] is not of type list[int]"),
    (lambda c: c["datasets"]["pendulum"]["prior_args"]["vhp"].update(zeta_dim=True),
     "prior_args of vhp_rewo on pendulum", "/zeta_dim: True is not of type int"),
]


@pytest.mark.fault("config")
def test_every_problem_of_a_config_is_reported_at_once(smoke_config):
    config = copy.deepcopy(smoke_config)
    config["methods"]["vhp_rewo"]["prior"] = "flow"
    config["methods"]["vhp_geco"]["objective"] = "wake_sleep"
    config["tables"]["table1"]["methods"].append("vhp_x")
    config["datasets"]["pendulum"]["args"]["rod_widht"] = 2.0
    with pytest.raises(ConfigError) as err:
        validate(config)
    lines = str(err.value).splitlines()
    assert lines[0] == "problems in the config, each naming its key:" and len(lines) == 5
    for key in ("methods/vhp_rewo/prior", "methods/vhp_geco/objective", "tables/table1/methods",
                "datasets/pendulum/args/rod_widht"):
        assert sum(line.startswith(f"- config key {key}:") for line in lines) == 1, key
    config = copy.deepcopy(smoke_config)
    config["device"], config["seeds"] = "tpu", [1, 1]
    with pytest.raises(ConfigError, match=r"(?s)config key device:.*config key seeds:"):
        validate(config)  # the schema's findings, all of them


@pytest.mark.fault("config")
@pytest.mark.parametrize("mutate, where, what", BAD, ids=[f"{where}: {what}" for _, where, what in BAD])
def test_bad_config_names_the_key_and_value(smoke_config, mutate, where, what):
    config = copy.deepcopy(smoke_config)
    mutate(config)
    with pytest.raises(ConfigError) as err:
        validate(config)
    assert where in str(err.value) and what in str(err.value)


@pytest.mark.parametrize("overlay", [None, "quick.yaml", "smoke.yaml"])
def test_shipped_configs_are_valid(overlay):
    files = [CONFIGS / "config.yaml"] + ([CONFIGS / overlay] if overlay else [])
    config = load_config(*files)
    for table in config["tables"].values():
        for dataset in table["datasets"]:
            for method in table["methods"]:
                resolve_run(config, dataset, method, 1)


def test_resolve_run_applies_method_overrides(smoke_config):
    config = copy.deepcopy(smoke_config)
    config["methods"]["vhp_rewo"]["training"] = {"lr": 5e-4}
    config["methods"]["vhp_rewo"]["prior_args"] = {"zeta_dim": 5}
    spec = resolve_run(config, "pendulum", "vhp_rewo", 2)
    assert spec["training"]["lr"] == 5e-4
    assert spec["training"]["batch_size"] == config["datasets"]["pendulum"]["training"]["batch_size"]
    assert spec["prior_args"]["zeta_dim"] == 5 and "hidden" in spec["prior_args"]
    with pytest.raises(ConfigError, match="'nope'"):
        resolve_run(config, "pendulum", "nope", 1)


@pytest.mark.parametrize("registry, key, mutate", [
    (PRIORS, "methods/vhp_rewo/prior", lambda c: c["methods"]["vhp_rewo"].update(prior="flow")),
    (LIKELIHOODS, "datasets/pendulum/model/likelihood",
     lambda c: c["datasets"]["pendulum"]["model"].update(likelihood="poisson")),
    (OBJECTIVES, "methods/vhp_rewo/objective", lambda c: c["methods"]["vhp_rewo"].update(objective="wake_sleep")),
    (SCHEDULES, "methods/vhp_rewo/schedule/name", lambda c: c["methods"]["vhp_rewo"]["schedule"].update(name="cos")),
])
@pytest.mark.fault("config")
def test_an_unknown_name_is_refused_by_its_registry_with_the_registered_names(smoke_config, registry, key, mutate):
    config = copy.deepcopy(smoke_config)
    mutate(config)
    with pytest.raises(ConfigError) as err:
        validate(config)
    assert str(err.value).startswith(f"config key {key}:") and f"registered: {registry.names()}" in str(err.value)


def test_the_schema_lists_no_registered_name():
    """Structure only: a plugin's prior, likelihood, objective or schedule needs no schema edit."""
    text = SCHEMA.read_text()
    names = {*PRIORS.names(), *LIKELIHOODS.names(), *OBJECTIVES.names(), *SCHEDULES.names()}
    assert "enum" not in yaml.safe_load(text)["$defs"]["schedule"]["properties"]["name"]
    assert not [n for n in names if f" {n}," in text or f"[{n}" in text or f"{n}]" in text]


def test_a_variant_states_only_what_differs(smoke_config):
    config = copy.deepcopy(smoke_config)
    config["methods"]["rewo_tau1"] = {"like": "vhp_rewo", "schedule": {"tau": 1.0}, "kappa2": 4.0}
    config["methods"]["rewo_tau1_wide"] = {"like": "rewo_tau1", "model": {"hidden": [64]}}
    config["datasets"]["pendulum_thin"] = {"like": "pendulum", "args": {"rod_width": 1.0}}
    expand_likes(config)
    validate(config)
    spec = resolve_run(config, "pendulum_thin", "rewo_tau1_wide", 3)
    rewo = resolve_run(config, "pendulum", "vhp_rewo", 3)
    assert spec["schedule"] == {**rewo["schedule"], "tau": 1.0} and spec["kappa2"] == 4.0
    assert spec["model"] == {**rewo["model"], "hidden": [64]}
    assert spec["dataset_args"] == {**rewo["dataset_args"], "rod_width": 1.0}
    assert spec["dataset_kind"] == "pendulum" and "dataset_kind" not in rewo  # specs of registered datasets unchanged
    assert spec["data_root"] == f"{config['data']['root']}/variants/pendulum_thin" == data_root(config, "pendulum_thin")
    assert rewo["data_root"] == config["data"]["root"] and rewo["kappa2"] == config["datasets"]["pendulum"]["kappa2"]


def test_runtime_compile_reaches_the_listed_datasets_and_their_variants_and_keeps_run_folders(smoke_config):
    """A listed dataset compiles, and so does a variant of it (the sensitivity study's rod widths); others do
    not; and compiling is a runtime choice: a run's folder (its digest) is the same either way, so turning it
    on resumes the finished and checkpointed runs instead of training them again."""
    config = copy.deepcopy(smoke_config)
    config["datasets"]["pendulum_thin"] = {"like": "pendulum", "args": {"rod_width": 1.0}}
    config["runtime"]["compile"] = ["pendulum"]
    expand_likes(config)
    validate(config)
    compiles = {d: resolve_run(config, d, "vhp_rewo", 1)["runtime"]["compile"]
                for d in ("pendulum", "pendulum_thin", "dynamic_mnist")}
    assert compiles == {"pendulum": True, "pendulum_thin": True, "dynamic_mnist": False}
    config["runtime"]["compile"] = ["pendulum_thin"]
    assert not resolve_run(config, "pendulum", "vhp_rewo", 1)["runtime"]["compile"]
    on = resolve_run(config, "pendulum_thin", "vhp_rewo", 1)
    assert on["runtime"]["compile"]
    config["runtime"]["compile"] = []
    assert run_digest(on) == run_digest(resolve_run(config, "pendulum_thin", "vhp_rewo", 1))


@pytest.mark.parametrize("like, message", [("vhp_rewoo", "methods/x/like: 'vhp_rewoo' is not defined"),
                                           ("x", "methods/x/like: a cycle, x -> x")])
@pytest.mark.fault("config")
def test_a_bad_like_names_the_key(smoke_config, like, message):
    config = copy.deepcopy(smoke_config)
    config["methods"]["x"] = {"like": like}
    with pytest.raises(ConfigError, match=message):
        expand_likes(config)


def sensitivity_config(smoke_config: dict) -> dict:
    config = copy.deepcopy(smoke_config)
    config["methods"]["rewo_tau1"] = {"like": "vhp_rewo", "schedule": {"tau": 1.0}}
    config["methods"]["rewo_tau9"] = {"like": "vhp_rewo", "schedule": {"tau": 9.0}}
    config["sensitivity"] = {"dataset": "pendulum", "method": "vhp_rewo", "seeds": [1, 2], "factors": {
        "tau": {"reference": 3, "levels": [{"value": 9, "method": "rewo_tau9"}, {"value": 1, "method": "rewo_tau1"}]},
        "renderer": {"reference": "thick", "levels": [{"value": "thin", "dataset": "pendulum_thin"}]}}}
    config["datasets"]["pendulum_thin"] = {"like": "pendulum", "args": {"rod_width": 1.0}}
    expand_likes(config)
    return config


def test_sensitivity_settings_are_in_order_and_in_the_run_grid(smoke_config):
    config = sensitivity_config(smoke_config)
    validate(config)
    levels = sensitivity_levels(config)
    assert [(r["factor"], r["value"], r["reference"]) for r in levels] == [
        ("tau", 1, False), ("tau", 3, True), ("tau", 9, False), ("renderer", "thick", True),
        ("renderer", "thin", False)]
    grid = run_grid(config)
    for dataset, method in [("pendulum", "rewo_tau1"), ("pendulum", "rewo_tau9"), ("pendulum_thin", "vhp_rewo")]:
        assert [(dataset, method, 1), (dataset, method, 2)] == [r for r in grid if r[:2] == (dataset, method)]
    assert len(grid) == len(set(grid))



def test_run_factors_runs_a_part_of_the_study(smoke_config):
    config = sensitivity_config(smoke_config)
    config["sensitivity"]["run_factors"] = ["renderer"]
    validate(config)
    assert [(r["factor"], r["value"]) for r in sensitivity_levels(config)] == [("renderer", "thick"),
                                                                               ("renderer", "thin")]
    assert not [r for r in run_grid(config) if r[1] in ("rewo_tau1", "rewo_tau9")]
    config["sensitivity"]["run_factors"] = ["renderer", "taus"]
    with pytest.raises(ConfigError, match=r"sensitivity/run_factors: 'taus' is not a factor"):
        validate(config)

@pytest.mark.fault("config")
def test_a_sensitivity_level_naming_an_unknown_method_is_refused(smoke_config):
    config = sensitivity_config(smoke_config)
    config["sensitivity"]["factors"]["tau"]["levels"][1]["method"] = "rewo_tau2"
    with pytest.raises(ConfigError, match=r"sensitivity/factors/tau/levels/1/method: 'rewo_tau2'"):
        validate(config)


@pytest.mark.fault("config")
@pytest.mark.parametrize("sections, match", [
    (["table1", "sensitivity"], r"results_doc/sections: 'sensitivity' needs a `sensitivity` study"),
    (["table3"], r"config key results_doc/sections/0: 'table3' is not one of"),
    ([], r"config key results_doc/sections: \[\] should be non-empty"),
    ({"sections": ["table1"], "tag": "part-2"}, r"config key results_doc/tag: 'part-2' does not match")])
def test_results_doc_sections_are_checked_before_any_work(smoke_config, sections, match):
    config = copy.deepcopy(smoke_config)
    config["results_doc"] = sections if isinstance(sections, dict) else {"sections": sections}
    with pytest.raises(ConfigError, match=match):
        validate(config)

@pytest.mark.parametrize("text, found", [("", "nothing"), ("- 1\n- 2\n", "list"), ("seeds: [1\n", "not valid YAML")])
def test_a_config_file_that_is_not_a_mapping_is_named(tmp_path, text, found):
    bad = tmp_path / "overlay.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=rf"config file {bad}: .*{found}"):
        load_config(CONFIGS / "config.yaml", bad)


def leaves(value, path=()):
    """Every (path, value) of a nested config, containers included."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, (*path, i))


MUTANTS = [None, -1, 0, 2.5, 10**9, "x", "", [], {}, True, [1, "a"], {"bogus": 1}, float("nan")]


@pytest.mark.fault("config")
def test_a_fuzzed_config_is_accepted_or_refused_naming_a_key(smoke_config):
    """200 configs, each with one value anywhere replaced by a value of another type or range (fixed seed):
    each one is valid, or refused with a ConfigError that names a key; never another exception."""
    rng = random.Random(0)
    paths = [p for p, _ in leaves(smoke_config) if p]
    refused = 0
    for _ in range(200):
        config = copy.deepcopy(smoke_config)
        path, value = rng.choice(paths), rng.choice(MUTANTS)
        parent = config
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = copy.deepcopy(value)
        try:
            validate(config)
        except ConfigError as exc:
            refused += 1
            assert "config key " in str(exc), (path, value, str(exc))
    assert refused > 120
