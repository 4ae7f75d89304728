"""Devices and random generators: one place that decides where tensors live and where their random
numbers come from, so that a generator is always on the device of the tensors it draws for."""
import ctypes
import functools
import os
import warnings
from typing import Any

import torch
from torch import nn


class DeviceError(RuntimeError):
    """The configured device cannot be used on this machine."""


def resolve_device(name: str, key: str = "device") -> torch.device:
    """'auto' picks CUDA when present, the CPU otherwise; 'cuda' without CUDA stops before any work,
    naming the config `key` and what this machine has."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"config key {key}: {name!r} asks for CUDA, but this machine has no CUDA device "
                          f"(torch {torch.__version__}, torch.cuda.is_available() is False); "
                          f"use 'auto' or 'cpu'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceError(f"config key {key}: {name!r} names CUDA device {device.index}, but this machine has "
                          f"{torch.cuda.device_count()}")
    return device


def module_device(module: nn.Module) -> torch.device:
    """The one device of a module's parameters and buffers (the CPU for a module without any): where its
    inputs must go. A module spread over several devices is named here, not deep inside a matmul."""
    devices = {t.device for t in (*module.parameters(), *module.buffers())}
    if len(devices) > 1:
        raise DeviceError(f"the model's tensors are spread over {sorted(map(str, devices))}; move it to one device")
    return devices.pop() if devices else torch.device("cpu")


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    """A generator on `device` (CUDA kernels refuse a CPU generator), seeded with `seed`."""
    return torch.Generator(device=device).manual_seed(seed)


def global_rng_state(device: torch.device) -> dict[str, Any]:
    """The global CPU RNG state and, when `device` is CUDA, that device's: what a checkpoint keeps."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_global_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD_MAX = 32 << 20  # the largest M_MMAP_THRESHOLD glibc accepts on 64-bit
KEEP_FREED = 1 << 30  # freed memory malloc may keep for reuse


def tune_cpu_process() -> bool:
    """Process-wide settings training and the NLL run fastest under on a CPU; call it before the first
    parallel op, so that torch's intra-op threads, started then, inherit the first (each keeps its own).

    Denormals flush to zero: GECO's beta reaches 1e-42 and below (a step then runs 24x slower) and a
    trained decoder's logits reach -100 and below, where softplus meets denormals (the NLL of the
    trained pendulum models: 1.9-2.8x faster flushed, the same to 1e-6 nats); what is flushed lies
    below 1.2e-38. And glibc's malloc keeps freed memory (up to 1 GiB) for reuse: by default it trims
    the heap's free top beyond about twice the largest block freed so far, so each model call faulted
    back in the tens of MiB of temporaries the previous one freed (NLL: a quarter of the time on 2
    threads; a pack of 5 pendulum runs: about 2,000 page faults per step, 240 tuned, 7% of the step);
    the peak resident set does not change. Returns whether malloc took the settings (False if not glibc).
    """
    torch.set_flush_denormal(True)
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None) if os.name == "posix" else None
    if mallopt is None:
        return False
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) == 1 and mallopt(M_TRIM_THRESHOLD, KEEP_FREED) == 1


@functools.cache
def compiler_works(device: torch.device) -> bool:
    """Whether `torch.compile` can build kernels for `device` here (the CPU's need a C++ compiler, CUDA's
    Triton): compiles a tiny function with its backward once per process. Where it cannot, warns (naming
    the error) and returns False, and training runs eagerly: compiling changes the speed, not the maths."""
    x = torch.ones(4, device=device, requires_grad=True)
    try:
        torch.compile(lambda t: torch.tanh(t).sum())(x).backward()
    except Exception as exc:  # any failure of the compiler toolchain, whatever its type
        warn_compile_failed(f"cannot build kernels for {device} here", exc)
        return False
    return True


def warn_compile_failed(what: str, exc: BaseException) -> None:
    """Warn that `torch.compile` failed and training goes on eagerly, naming the cause (Dynamo wraps the
    backend's error, whose first line says what is missing) and the config key that asked for it."""
    cause = getattr(exc, "inner_exception", None) or exc
    lines = str(cause).strip().splitlines()
    warnings.warn(f"torch.compile {what} ({type(cause).__name__}: {lines[0] if lines else ''}); training goes "
                  f"on without it (runtime/compile)", RuntimeWarning, stacklevel=3)
