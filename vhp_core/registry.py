"""Named parts that configs refer to (priors, likelihoods, schedules, objectives, datasets, methods): one
mechanism for all. A part registers itself with a decorator where it is defined; an installed package may
add parts through the entry-point group `vhp_bench.<kind>` (read on the first lookup); a config's
`plugins` list imports modules that register parts (`vhp_core.plugins`)."""
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from types import ModuleType
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownName(LookupError):
    """A name that no part of a registry has; the message lists the registered names."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Generic[T]):
    """Parts of one kind by name. `kind` is plural ("priors"): the entry-point group is `vhp_bench.<kind>`."""

    def __init__(self, kind: str):
        self.kind = kind
        self.group = f"vhp_bench.{kind}"
        self._parts: dict[str, T] = {}
        self._entry_points_read = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator (or call on an object): make `part` available under `name`."""

        def add(part: T) -> T:
            if name in self._parts and self._parts[name] is not part:
                raise ValueError(f"{self.kind[:-1]} {name!r} is registered twice ({_what(self._parts[name])}, "
                                 f"{_what(part)})")
            self._parts[name] = part
            return part

        return add

    def _read_entry_points(self) -> None:
        """Import every entry point of the group once; an entry point naming an object rather than a module
        registers it under the entry point's name unless its module already registered it."""
        if self._entry_points_read:
            return
        self._entry_points_read = True
        for point in entry_points(group=self.group):
            part = point.load()
            if not isinstance(part, ModuleType) and part not in self._parts.values():
                self.register(point.name)(part)

    def __getitem__(self, name: str) -> T:
        self._read_entry_points()
        if name not in self._parts:
            raise UnknownName(f"{name!r} is not a registered {self.kind[:-1]}; registered: {self.names()}")
        return self._parts[name]

    def __contains__(self, name: object) -> bool:
        self._read_entry_points()
        return name in self._parts

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def names(self) -> list[str]:
        self._read_entry_points()
        return sorted(self._parts)


def _what(part: object) -> str:
    return getattr(part, "__qualname__", type(part).__qualname__)
