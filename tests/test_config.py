"""Bad config input stops with a message that names the key or value; the registries and the
schema's enums agree, so no name can be accepted by one and refused by the other."""
import copy

import pytest
import yaml
from conftest import CONFIGS

from vhp_core.config import SCHEMA, ConfigError, load_config, resolve_run, validate
from vhp_core.datasets import DATASETS
from vhp_core.likelihoods import LIKELIHOODS
from vhp_core.objectives import OBJECTIVES
from vhp_core.schedules import KINDS

BAD = [
    (lambda c: c.update(epochs=3), "(top level)", "'epochs' was unexpected"),
    (lambda c: c["datasets"].update(mnist=c["datasets"]["pendulum"]), "datasets", "'mnist'"),
    (lambda c: c["datasets"]["pendulum"]["training"].update(lr=-1), "datasets/pendulum/training/lr", "-1"),
    (lambda c: c["datasets"]["pendulum"]["model"].update(likelihood="poisson"), "model/likelihood", "'poisson'"),
    (lambda c: c["methods"]["vhp_rewo"]["schedule"].update(name="cosine"), "schedule/name", "'cosine'"),
    (lambda c: c["methods"]["vhp_rewo"]["schedule"].update(kappa=2), "methods/vhp_rewo/schedule", "'kappa'"),
    (lambda c: c["methods"]["vhp_rewo"]["schedule"].pop("tau"), "methods/vhp_rewo/schedule", "'tau'"),
    (lambda c: c["methods"]["vhp_rewo"].update(prior="flow"), "methods/vhp_rewo/prior", "'flow'"),
    (lambda c: c["methods"]["vhp_rewo"].update(objective="wake_sleep"), "objective", "'wake_sleep'"),
    (lambda c: c["tables"]["table1"]["methods"].append("vhp_x"), "tables/table1/methods", "'vhp_x'"),
    (lambda c: c["figures"]["training_dynamics"]["methods"].append("gecco"), "training_dynamics", "'gecco'"),
    (lambda c: c.update(device="tpu"), "device", "'tpu'"),
]


@pytest.mark.parametrize("mutate, where, what", BAD)
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


def test_schema_enums_match_the_registries():
    schema = yaml.safe_load(SCHEMA.read_text())
    defs = schema["$defs"]
    assert set(defs["schedule"]["properties"]["name"]["enum"]) == set(KINDS)
    assert set(defs["model"]["properties"]["likelihood"]["enum"]) == set(LIKELIHOODS)
    method = defs["method_fields"]["properties"]
    assert set(method["objective"]["enum"]) == set(OBJECTIVES)
    assert set(schema["properties"]["datasets"]["propertyNames"]["enum"]) == set(DATASETS)
