"""Load, validate and resolve the workflow config: one run = (dataset, method, seed) -> a flat spec.

The JSON schema (config.schema.yaml beside this module) checks the structure and rejects unknown keys by name;
the checks here cover what a schema cannot see: names of registered parts (after importing the config's
`plugins`), keys of their arguments, and the methods and datasets a table refers to.
"""
import copy
import difflib
import hashlib
import inspect
import json
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from vhp_core.datasets import DATASETS
from vhp_core.datasets.base import DatasetSpec
from vhp_core.devices import DeviceError, resolve_device
from vhp_core.maths.likelihoods import LIKELIHOODS
from vhp_core.maths.objectives import OBJECTIVES
from vhp_core.maths.priors import PRIORS
from vhp_core.maths.schedules import SCHEDULES
from vhp_core.maths.schedules import parse as parse_schedule
from vhp_core.plugins import PluginError, import_plugins
from vhp_core.registry import Registry, UnknownName

SCHEMA = Path(__file__).with_name("config.schema.yaml")


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


METHODS: Registry[dict[str, Any]] = Registry("methods")
"""Whole methods by name, as config entries (`METHODS.register("name")({"label": ..., "prior": ..., ...})`),
for a plugin that brings a method of its own: a config may then list it in its tables without defining it
(an entry of the config's own `methods` with that name wins)."""


def complete(config: dict[str, Any]) -> None:
    """In place, before validation: import the config's plugins, add the methods they register, expand `like`."""
    plugins = config.get("plugins", [])
    if isinstance(plugins, list) and all(isinstance(p, str) for p in plugins):  # else the schema names the key
        try:
            import_plugins(plugins)
        except PluginError as exc:
            raise ConfigError(str(exc)) from exc
    if isinstance(config.get("methods"), dict):
        registered = {n: copy.deepcopy(METHODS[n]) for n in METHODS.names() if n not in config["methods"]}
        config["methods"] = {**registered, **config["methods"]}
    expand_likes(config)


def load_config(*paths: str | Path) -> dict[str, Any]:
    """Read and merge YAML files in order (later ones override), complete (plugins, registered methods,
    `like`), then validate."""
    config: dict[str, Any] = {}
    for path in paths:
        with open(path) as f:
            try:
                loaded = yaml.safe_load(f)
            except yaml.YAMLError as exc:
                raise ConfigError(f"config file {path}: not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path}: expected a mapping of config keys, found "
                              f"{'nothing' if loaded is None else type(loaded).__name__}")
        config = deep_merge(config, loaded)
    complete(config)
    validate(config)
    return config


def expand_likes(config: dict[str, Any]) -> None:
    """In place: an entry of `datasets` or `methods` with `like: NAME` becomes NAME's (expanded) entry
    with its own keys merged over it, so a variant states only what differs (it keeps `like`)."""
    for section in ("datasets", "methods"):
        if isinstance(config.get(section), dict):
            config[section].update(_expanded(section, config[section]))


def _expanded(section: str, entries: dict[str, Any]) -> dict[str, Any]:
    done: dict[str, Any] = {}

    def expand(name: str, chain: tuple[str, ...]) -> Any:
        entry = entries[name]
        if name in done or not isinstance(entry, dict) or "like" not in entry:
            return done.setdefault(name, entry)
        parent = entry["like"]
        if parent not in entries:
            raise ConfigError(f"config key {section}/{name}/like: {parent!r} is not defined under `{section}`; "
                              f"defined: {sorted(entries)}")
        if parent in chain:
            raise ConfigError(f"config key {section}/{name}/like: a cycle, {' -> '.join((*chain, name, parent))}")
        done[name] = deep_merge(expand(parent, (*chain, name)), entry)
        return done[name]

    for name in entries:
        expand(name, ())
    return done


def dataset_kind(config: dict[str, Any], dataset: str) -> str:
    """The registered dataset that generates a config entry: its own name, or that of the entry it is
    `like` (followed to the end)."""
    while "like" in config["datasets"][dataset]:
        dataset = config["datasets"][dataset]["like"]
    return dataset


def data_root(config: dict[str, Any], dataset: str) -> str:
    """Where a dataset's files go: the data root, or for a variant (other args of a registered dataset)
    a folder of its own under `variants/`, so its files never replace the original's."""
    root = config["data"]["root"]
    return root if dataset_kind(config, dataset) == dataset else f"{root}/variants/{dataset}"


def manifest_path(config: dict[str, Any], dataset: str) -> str:
    """The file whose presence says a dataset is prepared (written last by `datasets.prepare`)."""
    return f"{data_root(config, dataset)}/{dataset_kind(config, dataset)}/manifest.json"


def _location(error: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(top level)"


class _Problems:
    """Collects the ConfigErrors of independent checks, so that one run of `validate` reports them all."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    @contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except ConfigError as exc:
            self.messages.append(str(exc))

    def raise_any(self) -> None:
        unique = list(dict.fromkeys(self.messages))
        if len(unique) == 1:
            raise ConfigError(unique[0])
        if unique:
            raise ConfigError(MANY + "\n- ".join(unique))


MANY = "problems in the config, each naming its key:\n- "


def validate(config: dict[str, Any]) -> None:
    """Raise ConfigError naming every offending key or value: the schema's findings first (all of them); if
    the structure is sound, every check the schema cannot make (all of them)."""
    with open(SCHEMA) as f:
        schema = yaml.safe_load(f)
    problems = _Problems()
    for found in sorted(jsonschema.Draft202012Validator(schema).iter_errors(config), key=lambda e: [*map(str, e.path)]):
        error = jsonschema.exceptions.best_match([found])
        problems.messages.append(f"config key {_location(error)}: {error.message}")
    problems.raise_any()
    try:
        import_plugins(config.get("plugins", []))
    except PluginError as exc:
        raise ConfigError(str(exc)) from exc  # the names below mean nothing without the plugins
    for name, entry in config["datasets"].items():
        with problems.check():
            _check_name(DATASETS, dataset_kind(config, name), f"datasets/{name}",
                        "; a variant of a registered dataset names it with `like:`")
            dataset = DATASETS[dataset_kind(config, name)]
            check_keys(entry["args"], dataset.args, f"datasets/{name}/args")
            if dataset.check is not None and (trouble := dataset.check(entry["args"])):
                raise ConfigError(f"config key datasets/{name}/args: {trouble}")
        with problems.check():
            if "likelihood" in entry.get("model", {}):
                _check_name(LIKELIHOODS, entry["model"]["likelihood"], f"datasets/{name}/model/likelihood")
        with problems.check():
            graph = entry.get("interpolation")
            if graph and graph["neighbours"] >= graph["nodes"]:
                raise ConfigError(f"config key datasets/{name}/interpolation/neighbours: {graph['neighbours']} "
                                  f"neighbours need more than {graph['nodes']} nodes (interpolation/nodes)")
        with problems.check():
            if entry.get("interpolation") and dataset_kind(config, name) in DATASETS:
                _check_pairs(DATASETS[dataset_kind(config, name)], entry, name)
    with problems.check():
        try:
            resolve_device(config["device"], "device")
        except DeviceError as exc:
            raise ConfigError(str(exc)) from exc
    for name, method in config["methods"].items():
        for registry, key in ((PRIORS, "prior"), (OBJECTIVES, "objective")):
            with problems.check():
                _check_name(registry, method[key], f"methods/{name}/{key}")
        with problems.check():
            _check_name(SCHEDULES, method["schedule"]["name"], f"methods/{name}/schedule/name")
        with problems.check():
            if "likelihood" in method.get("model", {}):
                _check_name(LIKELIHOODS, method["model"]["likelihood"], f"methods/{name}/model/likelihood")
    for table, spec in config["tables"].items():
        for key, section in (("methods", "methods"), ("datasets", "datasets")):
            for entry in spec[key]:
                with problems.check():
                    _check_defined(config, section, entry, f"tables/{table}/{key}")
    if "table1" in config["tables"]:
        with problems.check():
            _check_table1_dataset(config)
    for dataset in config["tables"].get("table2", {}).get("datasets", []):
        with problems.check():
            if dataset in config["datasets"] and "nll" not in config["datasets"][dataset]:
                raise ConfigError(f"config key tables/table2/datasets: {dataset!r} has no `datasets/{dataset}/nll` "
                                  "settings (samples, n_items), which Table 2's test NLL needs")
    for dataset in config["runtime"].get("compile", []):
        with problems.check():
            _check_defined(config, "datasets", dataset, "runtime/compile")
    for dataset, spec in config["datasets"].items():
        for method in spec.get("overrides", {}):
            with problems.check():
                _check_defined(config, "methods", method, f"datasets/{dataset}/overrides")
    if "sensitivity" in config:
        with problems.check():
            _validate_sensitivity(config)
    with problems.check():
        if "sensitivity" in config["results_doc"]["sections"] and "sensitivity" not in config:
            raise ConfigError("config key results_doc/sections: 'sensitivity' needs a `sensitivity` study in the "
                              "config (--configfile workflow/config/sensitivity.yaml)")
    for figure, spec in config["figures"].items():
        for method in spec.get("methods", []):
            with problems.check():
                _check_defined(config, "methods", method, f"figures/{figure}/methods")
        with problems.check():
            if "dataset" in spec:
                _check_defined(config, "datasets", spec["dataset"], f"figures/{figure}/dataset")
                graph = config["datasets"][spec["dataset"]].get("interpolation")
                if figure in INTERPOLATING_FIGURES and not graph:
                    raise ConfigError(f"config key figures/{figure}/dataset: {spec['dataset']!r} has no "
                                      f"`datasets/{spec['dataset']}/interpolation` settings")
                if "pair" in spec and graph and spec["pair"] >= len(graph["pairs"]):
                    raise ConfigError(f"config key figures/{figure}/pair: {spec['pair']} (0-based) is not one of the "
                                      f"{len(graph['pairs'])} pairs of datasets/{spec['dataset']}/interpolation/pairs")
    problems.raise_any()  # the run grid below needs the names above to resolve
    for dataset, method in dict.fromkeys((d, m) for d, m, _ in run_grid(config)):
        spec = resolve_run(config, dataset, method, 0)
        with problems.check():
            _check_prior_args(spec)
        with problems.check():
            _check_schedule(spec)
    problems.raise_any()


def _check_pairs(dataset: DatasetSpec, entry: dict[str, Any], name: str) -> None:
    """The interpolation pairs a dataset's config names, read as its endpoints will read them after training."""
    where = f"config key datasets/{name}/interpolation/pairs"
    if dataset.endpoints is None:
        raise ConfigError(f"{where}: {name!r} defines no interpolation endpoints, so its pairs cannot be read")
    pairs = entry["interpolation"]["pairs"]
    if dataset.check_pairs is not None and (trouble := dataset.check_pairs(entry["args"], pairs)):
        raise ConfigError(f"{where}: {trouble}")


def _check_table1_dataset(config: dict[str, Any]) -> None:
    """Table 1 pairs methods on one dataset's seeds and reads the angle from a 2-D latent: one dataset, with
    angle labels (a variant such as a thicker rod gets its own config and page)."""
    names = config["tables"]["table1"]["datasets"]
    if len(names) != 1:
        raise ConfigError(f"config key tables/table1/datasets: {names} names {len(names)} datasets; Table 1 pairs "
                          "its methods on one dataset's seeds, so give one (another dataset gets a config of its "
                          "own, as workflow/config/table1_rod5.yaml does for pendulum_rod5)")
    if names[0] in config["datasets"] and not DATASETS[dataset_kind(config, names[0])].angles:
        raise ConfigError(f"config key tables/table1/datasets: {names[0]!r} has no angle labels to read out "
                          f"(a {dataset_kind(config, names[0])!r} dataset); Table 1 needs a pendulum")


def _check_defined(config: dict[str, Any], section: str, name: str, where: str) -> None:
    if name not in config[section]:
        raise ConfigError(f"config key {where}: {name!r} is not defined under `{section}`; "
                          f"defined: {sorted(config[section])}")


def _check_name(registry: Registry, name: str, where: str, hint: str = "") -> None:
    try:
        registry[name]
    except UnknownName as exc:
        raise ConfigError(f"config key {where}: {exc}{hint}") from exc


def check_keys(mapping: dict[str, Any], known: dict[str, Any], where: str) -> None:
    """Refuse a key of `mapping` that `known` does not name (recursively where `known` nests a dict),
    naming the key, its mapping and the closest known key."""
    for key, value in mapping.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"config key {where}/{key}: unknown key {key!r} in {where}; expected one of "
                              f"{sorted(known)}{hint}")
        if isinstance(known[key], dict) and isinstance(value, dict):
            check_keys(value, known[key], f"{where}/{key}")


def _check_prior_args(spec: dict[str, Any]) -> None:
    """The prior_args a run would pass to its prior's constructor: no unknown key, no required one missing."""
    dataset, method = spec["dataset"], spec["method"]
    params = inspect.signature(PRIORS[spec["prior"]].__init__).parameters
    known = {n: p for n, p in params.items() if n not in ("self", "latent_dim", "encoder")}
    where = (f"prior_args of {method} on {dataset} (datasets/{dataset}/prior_args/{spec['prior']}, "
             f"methods/{method}/prior_args)")
    check_keys(spec["prior_args"], dict.fromkeys(known), where)
    for name, value in spec["prior_args"].items():
        if not _fits(value, hint := known[name].annotation):
            raise ConfigError(f"config key {where}/{name}: {value!r} is not of type {_type_name(hint)}, which "
                              f"the {spec['prior']!r} prior's {name!r} takes")
    missing = [n for n, p in known.items() if p.default is p.empty and n not in spec["prior_args"]]
    if missing:
        raise ConfigError(f"config key {where}: missing {missing}, which the {spec['prior']!r} prior requires")


def _fits(value: Any, hint: Any) -> bool:
    """Whether a YAML value fits a constructor's type hint: bool, int, float, str and list[...] of them are
    checked (a bool is no number; an int is a float); any other hint, or none, is the prior's own to check."""
    if hint is bool:
        return isinstance(value, bool)
    if hint in (int, float):
        return isinstance(value, int if hint is int else (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint) or (Any,)
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    return True


def _type_name(hint: Any) -> str:
    return str(hint) if typing.get_origin(hint) else getattr(hint, "__name__", str(hint))


def _check_schedule(spec: dict[str, Any]) -> None:
    """The schedule a run would build: its keys known to its kind, its values in range, kappa2 set if needed."""
    try:
        parse_schedule(spec["schedule"], spec["kappa2"])
    except ValueError as exc:
        raise ConfigError(f"config key methods/{spec['method']}/schedule (on {spec['dataset']}): {exc}") from exc


def _validate_sensitivity(config: dict[str, Any]) -> None:
    spec = config["sensitivity"]
    for key, section in (("dataset", "datasets"), ("method", "methods")):
        _check_defined(config, section, spec[key], f"sensitivity/{key}")
    for factor in spec.get("run_factors", []):
        if factor not in spec["factors"]:
            raise ConfigError(f"config key sensitivity/run_factors: {factor!r} is not a factor of "
                              f"sensitivity/factors; defined: {list(spec['factors'])}")
    for factor, levels in spec["factors"].items():
        for i, level in enumerate(levels["levels"]):
            for key, section in (("dataset", "datasets"), ("method", "methods")):
                if key in level:
                    _check_defined(config, section, level[key], f"sensitivity/factors/{factor}/levels/{i}/{key}")


def sensitivity_levels(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every setting of the sensitivity study, factor by factor, in increasing value where the values
    are numbers: {factor, value, dataset, method, reference}; a level changes the dataset or the method."""
    spec = config["sensitivity"]
    rows = []
    for factor, f in spec["factors"].items():
        if factor not in spec.get("run_factors", spec["factors"]):
            continue
        settings = [{"factor": factor, "value": f["reference"], "dataset": spec["dataset"], "method": spec["method"],
                     "reference": True}]
        settings += [{"factor": factor, "value": level["value"], "dataset": level.get("dataset", spec["dataset"]),
                      "method": level.get("method", spec["method"]), "reference": False} for level in f["levels"]]
        numeric = all(isinstance(r["value"], int | float) and not isinstance(r["value"], bool) for r in settings)
        rows += sorted(settings, key=lambda r: r["value"]) if numeric else settings
    return rows


def check_data_sizes(spec: dict[str, Any], n_train: int, n_test: int, nll_items: int | None = None) -> None:
    """Stop before any work when a count in the run's config exceeds what its data hold (it would be capped
    silently while the saved spec says otherwise); all such counts at once, each with its key."""
    d = spec["dataset"]
    counts = [(f"datasets/{d}/training/train_items", spec["training"].get("train_items"), n_train, "training"),
              (f"datasets/{d}/training/snapshot_points", spec["training"]["snapshot_points"], n_test, "test"),
              (f"datasets/{d}/curves/n_items", (spec.get("curves") or {}).get("n_items"), n_test, "test"),
              (f"datasets/{d}/nll/n_items", nll_items, n_test, "test")]
    problems = [f"{key} = {value} is more than the {held} {split} items of {d!r}: lower it"
                + (" or set it to null (all)" if key.endswith("/n_items") else "")
                for key, value, held, split in counts if value is not None and value > held]
    trained = min(n_train, spec["training"].get("train_items") or n_train)
    if spec["training"]["batch_size"] > trained:
        problems.append(f"datasets/{d}/training/batch_size = {spec['training']['batch_size']} is more than the "
                        f"{trained} items it trains on: lower it")
    if problems:
        raise ConfigError("; ".join(problems))


def resolve_run(config: dict[str, Any], dataset: str, method: str, seed: int) -> dict[str, Any]:
    """Everything one training run needs: the dataset's defaults, overridden by the method's entry,
    overridden by the dataset's `overrides` for that method (kappa2 too: a method may set its own)."""
    if dataset not in config["datasets"]:
        raise ConfigError(f"dataset {dataset!r} is not defined under `datasets`")
    if method not in config["methods"]:
        raise ConfigError(f"method {method!r} is not defined under `methods`")
    ds = config["datasets"][dataset]
    m = deep_merge(config["methods"][method], ds.get("overrides", {}).get(method, {}))
    prior_args = deep_merge(ds["prior_args"].get(m["prior"], {}), m.get("prior_args", {}))
    kind = dataset_kind(config, dataset)
    return {
        "dataset": dataset,
        "method": method,
        "seed": int(seed),
        "device": config["device"],
        "torch_threads": config["torch_threads"],
        "runtime": run_runtime(config, dataset),
        "data_root": data_root(config, dataset),
        **({} if kind == dataset else {"dataset_kind": kind}),  # only for variants: other specs stay as they were
        "dataset_args": ds["args"],
        "model": deep_merge(ds["model"], m.get("model", {})),
        "prior": m["prior"],
        "prior_args": prior_args,
        "objective": m["objective"],
        "k": m["k"],
        "schedule": m["schedule"],
        "kappa2": m.get("kappa2", ds.get("kappa2")),
        "training": deep_merge(ds["training"], m.get("training", {})),
        "evaluation": ds["evaluation"],
        **({"curves": ds["curves"]} if "curves" in ds else {}),  # only where configured: other specs unchanged
        **({"plugins": list(config["plugins"])} if config.get("plugins") else {}),
    }


def run_runtime(config: dict[str, Any], dataset: str) -> dict[str, Any]:
    """How a run on `dataset` is carried out, never what it computes: the config's `runtime`, with `compile`
    resolved to whether the dataset, or the dataset it is a variant of, is listed there."""
    listed = {*config["runtime"].get("compile", [])}
    return {**config["runtime"], "compile": bool({dataset, dataset_kind(config, dataset)} & listed)}


def run_identity(spec: dict[str, Any]) -> dict[str, Any]:
    """A resolved spec without its `runtime`: what the run computes. The workflow tracks this (a changed
    runtime resumes, it does not make Snakemake rerun finished jobs) and the run's folder is keyed by it."""
    return {k: v for k, v in spec.items() if k != "runtime"}


def run_digest(spec: dict[str, Any]) -> str:
    """12 hex digits of the sha256 of `run_identity(spec)`: the key of the folder a run trains in, so a
    changed config trains beside a finished run instead of over it."""
    return hashlib.sha256(json.dumps(run_identity(spec), sort_keys=True).encode()).hexdigest()[:12]


Run = tuple[str, str, int]
"""(dataset, method, seed): one training run."""


def run_grid(config: dict[str, Any]) -> list[Run]:
    """Every run a table or figure of the config asks for, each once, in a fixed order."""
    runs: list[Run] = []
    for spec in config["tables"].values():
        seeds = spec.get("seeds", config["seeds"])
        runs += [(d, m, s) for d in spec["datasets"] for m in spec["methods"] for s in seeds]
    if "sensitivity" in config:
        seeds = config["sensitivity"]["seeds"]
        runs += [(level["dataset"], level["method"], s) for level in sensitivity_levels(config) for s in seeds]
    for spec in config["figures"].values():
        if "dataset" in spec:
            seeds = [spec["seed"]] if "seed" in spec else spec.get("seeds", config["seeds"])
            runs += [(spec["dataset"], m, s) for m in spec["methods"] for s in seeds]
    return list(dict.fromkeys(runs))


def plan_packs(config: dict[str, Any], runs: list[Run]) -> list[list[Run]]:
    """Runs grouped into packs of at most `config['pack']` whose specs share a `pack_key` (same data,
    architecture, objective, batches and epochs), in the order of `runs`: each pack is one training job."""
    from vhp_core.runs.train import pack_key

    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(pack_key(resolve_run(config, *run)), []).append(run)
    size = config["pack"]
    return [group[i:i + size] for group in groups.values() for i in range(0, len(group), size)]
