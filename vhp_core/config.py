"""Load, validate and resolve the workflow config: one run = (dataset, method, seed) -> a flat spec.

The JSON schema (workflow/schemas/config.schema.yaml) rejects unknown keys and values by name;
the checks here cover what a schema cannot see (registered priors, methods a table refers to).
"""
import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from vhp_core.devices import DeviceError, resolve_device
from vhp_core.priors import PRIORS

SCHEMA = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


INTERPOLATING_FIGURES = ("pendulum_interpolation", "mocap_interpolation", "smoothness")
"""Figures drawn from graph-based interpolations: their dataset needs `interpolation` settings."""


class ConfigError(ValueError):
    """The config names an unknown key or value, or misses one; the message says which."""


def deep_merge(base: dict, override: dict) -> dict:
    """A copy of `base` with `override` merged in, recursively for nested dicts (as --configfile does)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(*paths: str | Path) -> dict[str, Any]:
    """Read and merge YAML files in order (later ones override), then validate."""
    config: dict[str, Any] = {}
    for path in paths:
        with open(path) as f:
            config = deep_merge(config, yaml.safe_load(f) or {})
    validate(config)
    return config


def _location(error: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(top level)"


def validate(config: dict[str, Any]) -> None:
    """Raise ConfigError naming the first offending key or value."""
    with open(SCHEMA) as f:
        schema = yaml.safe_load(f)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config), key=lambda e: e.path)
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        raise ConfigError(f"config key {_location(error)}: {error.message}")
    try:
        resolve_device(config["device"], "device")
    except DeviceError as exc:
        raise ConfigError(str(exc)) from exc
    for name, method in config["methods"].items():
        if method["prior"] not in PRIORS:
            raise ConfigError(f"config key methods/{name}/prior: {method['prior']!r} is not a registered prior; "
                              f"expected one of {sorted(PRIORS)}")
    for table, spec in config["tables"].items():
        for method in spec["methods"]:
            if method not in config["methods"]:
                raise ConfigError(f"config key tables/{table}/methods: {method!r} is not defined under `methods`; "
                                  f"defined: {sorted(config['methods'])}")
        for dataset in spec["datasets"]:
            if dataset not in config["datasets"]:
                raise ConfigError(f"config key tables/{table}/datasets: {dataset!r} is not defined under "
                                  f"`datasets`; defined: {sorted(config['datasets'])}")
    for dataset, spec in config["datasets"].items():
        for method in spec.get("overrides", {}):
            if method not in config["methods"]:
                raise ConfigError(f"config key datasets/{dataset}/overrides: {method!r} is not defined under "
                                  f"`methods`; defined: {sorted(config['methods'])}")
    for figure, spec in config["figures"].items():
        for method in spec.get("methods", []):
            if method not in config["methods"]:
                raise ConfigError(f"config key figures/{figure}/methods: {method!r} is not defined under `methods`; "
                                  f"defined: {sorted(config['methods'])}")
        if "dataset" in spec and spec["dataset"] not in config["datasets"]:
            raise ConfigError(f"config key figures/{figure}/dataset: {spec['dataset']!r} is not defined under "
                              f"`datasets`; defined: {sorted(config['datasets'])}")
        if figure in INTERPOLATING_FIGURES and "interpolation" not in config["datasets"][spec["dataset"]]:
            raise ConfigError(f"config key figures/{figure}/dataset: {spec['dataset']!r} has no "
                              f"`datasets/{spec['dataset']}/interpolation` settings")


def resolve_run(config: dict[str, Any], dataset: str, method: str, seed: int) -> dict[str, Any]:
    """Everything one training run needs: the dataset's defaults, overridden by the method's entry,
    overridden by the dataset's `overrides` for that method."""
    if dataset not in config["datasets"]:
        raise ConfigError(f"dataset {dataset!r} is not defined under `datasets`")
    if method not in config["methods"]:
        raise ConfigError(f"method {method!r} is not defined under `methods`")
    ds = config["datasets"][dataset]
    m = deep_merge(config["methods"][method], ds.get("overrides", {}).get(method, {}))
    prior_args = deep_merge(ds["prior_args"].get(m["prior"], {}), m.get("prior_args", {}))
    return {
        "dataset": dataset,
        "method": method,
        "seed": int(seed),
        "device": config["device"],
        "torch_threads": config["torch_threads"],
        "runtime": dict(config["runtime"]),
        "data_root": config["data"]["root"],
        "dataset_args": ds["args"],
        "model": deep_merge(ds["model"], m.get("model", {})),
        "prior": m["prior"],
        "prior_args": prior_args,
        "objective": m["objective"],
        "k": m["k"],
        "schedule": m["schedule"],
        "kappa": ds.get("kappa"),
        "training": deep_merge(ds["training"], m.get("training", {})),
        "evaluation": ds["evaluation"],
    }


Run = tuple[str, str, int]
"""(dataset, method, seed): one training run."""


def run_grid(config: dict[str, Any]) -> list[Run]:
    """Every run a table or figure of the config asks for, each once, in a fixed order."""
    runs: list[Run] = []
    for spec in config["tables"].values():
        seeds = spec.get("seeds", config["seeds"])
        runs += [(d, m, s) for d in spec["datasets"] for m in spec["methods"] for s in seeds]
    for spec in config["figures"].values():
        if "dataset" in spec:
            seeds = [spec["seed"]] if "seed" in spec else spec.get("seeds", config["seeds"])
            runs += [(spec["dataset"], m, s) for m in spec["methods"] for s in seeds]
    return list(dict.fromkeys(runs))


def plan_packs(config: dict[str, Any], runs: list[Run]) -> list[list[Run]]:
    """Runs grouped into packs of at most `config['pack']` whose specs share a `pack_key` (same data,
    architecture, objective, batches and epochs), in the order of `runs`: each pack is one training job."""
    from vhp_core.train import pack_key

    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(pack_key(resolve_run(config, *run)), []).append(run)
    size = config["pack"]
    return [group[i:i + size] for group in groups.values() for i in range(0, len(group), size)]
