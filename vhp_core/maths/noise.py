"""Where the models' Gaussian noise comes from. Every draw of the bounds a model trains and is evaluated on
(the encoder's reparameterised samples, the VHP's proposal) goes through `standard_normal`, so that the
trainer can hand each run noise drawn from the run's own generator outside `vmap`: a packed run draws exactly
what it would alone. Outside a `source` block the draws come from torch's global RNG, as do those of a
prior's `sample` (samples for figures and snapshots, never a training step)."""
import contextlib
from collections.abc import Iterator, Sequence

import torch


class NoiseSource:
    """Base: draw standard normal noise of a given shape."""

    def draw(self, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        raise NotImplementedError


class RecordingNoise(NoiseSource):
    """Returns zeros and records the shapes asked for: the plan of one step's draws."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def draw(self, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        self.shapes.append(tuple(shape))
        return torch.zeros(shape, dtype=dtype, device=device)


class QueuedNoise(NoiseSource):
    """Hands out tensors drawn beforehand, in order; a request of another shape is a plan error."""

    def __init__(self, tensors: Sequence[torch.Tensor]):
        self.tensors, self.next = list(tensors), 0

    def draw(self, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        if self.next >= len(self.tensors) or tuple(self.tensors[self.next].shape) != tuple(shape):
            have = tuple(self.tensors[self.next].shape) if self.next < len(self.tensors) else "nothing"
            raise RuntimeError(f"noise draw {self.next} asks for shape {tuple(shape)}, the plan has {have}: "
                               f"a model's draws must not depend on the values of its inputs")
        self.next += 1
        return self.tensors[self.next - 1]


class _Slot:
    """The active source: a plain attribute, which torch.compile can trace (a ContextVar it cannot). One per
    process, so models must not be called from several threads at once (nothing here does)."""

    def __init__(self) -> None:
        self.value: NoiseSource | None = None


_SOURCE = _Slot()


@contextlib.contextmanager
def source(src: NoiseSource) -> Iterator[NoiseSource]:
    """Route every `standard_normal` inside the block to `src`."""
    previous, _SOURCE.value = _SOURCE.value, src
    try:
        yield src
    finally:
        _SOURCE.value = previous


def standard_normal(shape: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """N(0, I) noise of `shape` from the active source (torch's global RNG if none)."""
    src = _SOURCE.value
    if src is None:
        return torch.randn(tuple(shape), dtype=dtype, device=device)
    return src.draw(tuple(shape), dtype, device)
