"""What a run costs, from its spec alone: the linear-layer FLOPs of a training step and of the NLL, and
the wall time and memory a cluster job should ask for (the workflow's `runtime` and `mem_mb`)."""
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from vhp_core.maths.objectives import OBJECTIVES
from vhp_core.runs.train import build_model

CPU_GFLOPS = 60.0
"""Linear-layer GFLOP/s of one CPU thread assumed for a time limit. Measured on a 2-core x86_64 machine
(README, Benchmarks): 86 on the MNIST VHP training step and 120 in the NLL of the same model (1
thread); 45-60 on the pendulum's small layers (2 threads, so less per thread)."""
STEP_OVERHEAD_S = 0.004
"""Seconds per run-step besides the linear layers (optimiser, schedule, Python), from the pendulum's
plain VAE: 3.0 ms per step on 2 threads at 13% of the matmul peak."""
SAFETY = 2.0
"""Time limits are this multiple of the estimate; a job that still hits its limit checkpoints on
SIGTERM and resumes when resubmitted (the profile's `retries`)."""
SETUP_MINUTES = 10
"""Loading data, validation passes, checkpoints and publishing, per job."""


def _linear_flops(model: nn.Module, call: Callable[[], Any]) -> int:
    """FLOPs of every `nn.Linear` call made by `call()`: 2 x in x out per row, the rows those the layer
    actually sees (codes, zeta samples, pseudo-inputs)."""
    total = [0]

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        total[0] += 2 * (inputs[0].numel() // module.in_features) * module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        call()
    for hook in hooks:
        hook.remove()
    return total[0]


def linear_forward_flops(spec: dict[str, Any], data_dim: int) -> int:
    """Linear-layer FLOPs of one forward pass of the run's training loss on one batch."""
    model = build_model(spec, data_dim)
    x = torch.zeros(spec["training"]["batch_size"], data_dim)
    return _linear_flops(model, lambda: OBJECTIVES[spec["objective"]].terms(model, x, spec["k"]))


def nll_sample_flops(spec: dict[str, Any], data_dim: int, samples: int = 100) -> float:
    """Linear-layer FLOPs of one importance sample of the NLL (Table 2) of one item, the encoder's
    one pass shared by `samples` samples."""
    model = build_model(spec, data_dim)
    return _linear_flops(model, lambda: model.log_importance_weights(torch.zeros(1, data_dim), samples)) / samples


def train_step_flops(spec: dict[str, Any], data_dim: int) -> int:
    """Linear-layer FLOPs of one training step of one run: the forward and twice it for the backward."""
    return 3 * linear_forward_flops(spec, data_dim)


def train_minutes(specs: list[dict[str, Any]], data_dim: int, n_train: int) -> int:
    """Wall-time limit of a training job of these runs (a pack) on one CPU thread each:
    SAFETY x steps x (FLOPs / CPU_GFLOPS + STEP_OVERHEAD_S) summed over the runs, plus SETUP_MINUTES."""
    seconds = 0.0
    for spec in specs:
        training = spec["training"]
        items = min(n_train, training.get("train_items", n_train))
        steps = training["epochs"] * math.ceil(items / training["batch_size"])
        seconds += steps * (train_step_flops(spec, data_dim) / (CPU_GFLOPS * 1e9) + STEP_OVERHEAD_S)
    return SETUP_MINUTES + math.ceil(SAFETY * seconds / 60)


def nll_minutes(spec: dict[str, Any], data_dim: int, samples: int, n_items: int) -> int:
    """Wall-time limit of one run's importance-sampled NLL on one CPU thread: SAFETY x items x samples
    x `nll_sample_flops` / CPU_GFLOPS, plus SETUP_MINUTES."""
    seconds = samples * n_items * nll_sample_flops(spec, data_dim) / (CPU_GFLOPS * 1e9)
    return SETUP_MINUTES + math.ceil(SAFETY * seconds / 60)
