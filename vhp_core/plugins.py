"""A config's `plugins`: modules imported before the config is checked, so that the parts they register
(a prior, a likelihood, a schedule, ...) are known by name everywhere, in every job of the workflow."""
import importlib
import os
import sys
from collections.abc import Sequence


class PluginError(ImportError):
    """A module of the config's `plugins` cannot be imported; the message names it and says where it was sought."""


def import_plugins(modules: Sequence[str], where: str = "plugins") -> None:
    """Import each module by name, from the installed packages or else the working directory."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
    for name in modules:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name and not name.startswith(f"{exc.name}."):
                raise  # the plugin itself imports something missing: that error names it
            raise PluginError(f"config key {where}: cannot import {name!r}: no module {exc.name!r} in the working "
                              f"directory {cwd} or among the installed packages") from exc
