"""R runs of one architecture trained as one batched model (packed training).

The parameters of the R models live in one flat (R, P) buffer, each model parameter a view of it with
a leading run axis; the single-run model code is mapped over that axis with `torch.func.vmap` (R = 1
calls it directly). Every run draws its noise from its own generator, outside `vmap`, in the order a run
alone would draw it, so packing changes the speed and never the results. Adam is torch's own, over one
(run, parameter group) slice of the flat buffer at a time, so that each run has its own learning rate,
step count and moment estimates.
"""
import copy
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, vmap
from torch.utils._pytree import tree_map

from vhp_core.devices import warn_compile_failed
from vhp_core.maths import noise
from vhp_core.maths.model import VAE

warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout contract")

ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch's defaults, as the single-run trainer always used


class _Apply(nn.Module):
    """Holds the template model so that `functional_call` can swap in one run's tensors and call `fn`."""

    def __init__(self, model: VAE):
        super().__init__()
        self.model = model

    def forward(self, fn: Callable, *args: Any) -> Any:
        return fn(self.model, *args)


class PackedModel:
    """R models of one architecture as stacked tensors; `template` is one of them (its own tensors are
    not used while packed). Parameters of the prior come last in the flat buffer, so that REWO's initial
    phase can hold them per run (Alg. 1)."""

    def __init__(self, models: Sequence[VAE]):
        self.template = models[0]
        self.runs = len(models)
        prior_names = {f"prior.{n}" for n, _ in self.template.prior.named_parameters()}
        names = [n for n, _ in self.template.named_parameters()]
        self.names = [n for n in names if n not in prior_names] + [n for n in names if n in prior_names]
        shapes = dict(self.template.named_parameters())
        self.shapes = {n: shapes[n].shape for n in self.names}
        sizes = [shapes[n].numel() for n in self.names]
        self.prior_start = sum(s for n, s in zip(self.names, sizes, strict=True) if n not in prior_names)
        device = shapes[self.names[0]].device
        self.flat = torch.empty(self.runs, sum(sizes), device=device)
        self.flat_grad = torch.zeros_like(self.flat)
        self.params: dict[str, torch.Tensor] = {}
        offset = 0
        for name, size in zip(self.names, sizes, strict=True):
            view = self.flat[:, offset:offset + size].view(self.runs, *self.shapes[name])
            view.requires_grad_(True)
            view.grad = self.flat_grad[:, offset:offset + size].view(self.runs, *self.shapes[name])
            self.params[name] = view
            offset += size
        self.buffers = {n: torch.stack([dict(m.named_buffers())[n] for m in models])
                        for n, _ in self.template.named_buffers()}
        with torch.no_grad():
            for r, m in enumerate(models):
                state = dict(m.named_parameters())
                for name in self.names:
                    self.params[name][r].copy_(state[name])
        self._blueprint = copy.deepcopy(self.template)  # pristine: the template's slots get views below
        self._apply = _Apply(self.template)
        self._plans: dict[tuple, list[tuple[int, ...]]] = {}
        self._mapped_fns: dict[tuple[Callable, bool], Callable] = {}
        self.compiling = True  # False once compiling the step has failed: the calls run eagerly
        self._slots = [(self.template.get_submodule(n.rpartition(".")[0]), n.rpartition(".")[2], kind)
                       for kind, names in (("_parameters", self.names), ("_buffers", list(self.buffers)))
                       for n in names]

    def state_dict(self, run: int) -> dict[str, torch.Tensor]:
        """Run `run`'s model state (parameters and persistent buffers), as `VAE.state_dict` gives it, on the CPU."""
        keys = self.template.state_dict().keys()
        tensors = {**{n: p[run] for n, p in self.params.items()}, **{n: b[run] for n, b in self.buffers.items()}}
        return {k: tensors[k].detach().cpu().clone() for k in keys}

    @torch.no_grad()
    def load_state_dict(self, run: int, state: dict[str, torch.Tensor]) -> None:
        for name, p in self.params.items():
            p[run].copy_(state[name])
        for name, b in self.buffers.items():
            if name in state:
                b[run].copy_(state[name])

    def model(self, run: int) -> VAE:
        """A stand-alone copy of run `run`'s model (for snapshots and publishing)."""
        m = copy.deepcopy(self._blueprint)
        m.load_state_dict(self.state_dict(run))
        return m.to(self.flat.device)

    def call(self, fn: Callable, args: Sequence[torch.Tensor], generators: Sequence[torch.Generator],
             compiled: bool = False) -> Any:
        """fn(model, *args) for every run, args and outputs with a leading run axis; the noise `fn` draws
        through `vhp_core.maths.noise` comes from each run's own generator, in the order of a run alone.
        `compiled`: the runs' mapped call goes through `torch.compile` (compiled once per `fn`, with R = 1
        too), which fuses the elementwise work of small layers (`devices.compiler_works` first)."""
        plan = self._plan(fn, args)
        draws = [torch.stack([torch.randn(shape, device=self.flat.device, generator=g) for g in generators])
                 for shape in plan]
        if compiled and self.compiling:
            try:
                return self._mapped(fn, compiled=True)(self.params, self.buffers, list(args), draws)
            except torch._dynamo.exc.BackendCompilerFailed as exc:  # raised before anything ran: go on eagerly
                self.compiling = False
                warn_compile_failed("failed on the training step", exc)
        if self.runs == 1:
            with noise.source(noise.QueuedNoise([d[0] for d in draws])):
                out = fn(self._bind_single(), *[a[0] for a in args])
            return tree_map(lambda t: t.unsqueeze(0), out)
        return self._mapped(fn, compiled=False)(self.params, self.buffers, list(args), draws)

    def _mapped(self, fn: Callable, compiled: bool) -> Callable:
        """`fn` mapped over the run axis of (params, buffers, args, draws), compiled or not; made once per fn."""
        key = (fn, compiled)
        if key not in self._mapped_fns:
            def one(params: dict, buffers: dict, run_args: Sequence[torch.Tensor], run_draws: list) -> Any:
                with noise.source(noise.QueuedNoise(run_draws)):
                    return functional_call(self._apply, {**_prefix(params), **_prefix(buffers)}, (fn, *run_args))

            mapped = vmap(one, randomness="error")
            if compiled and not any(c for _, c in self._mapped_fns):
                # Dynamo keeps compiled code per code object, and every vmapped function shares one: the entries
                # of other packs in this process (resume groups, other sizes, methods or priors in the benchmark
                # and the tests) would add up towards its limit of 8, beyond which it silently runs eagerly.
                # So each pack compiles afresh (Inductor's kernels come from its on-disk cache when they match).
                torch.compiler.reset()
            self._mapped_fns[key] = torch.compile(mapped, dynamic=False) if compiled else mapped
        return self._mapped_fns[key]

    def _bind_single(self) -> VAE:
        """With one run, the template's own slots hold views of the flat buffer: no swap per call."""
        tensors = [p[0] for p in self.params.values()] + [b[0] for b in self.buffers.values()]
        for (module, name, kind), tensor in zip(self._slots, tensors, strict=True):
            getattr(module, kind)[name] = tensor
        return self.template

    def _plan(self, fn: Callable, args: Sequence[torch.Tensor]) -> list[tuple[int, ...]]:
        """The shapes of the draws of `fn` on one run, recorded once per function and input shapes."""
        key = (fn, tuple(tuple(a.shape[1:]) for a in args))
        if key not in self._plans:
            recorder = noise.RecordingNoise()
            with torch.no_grad(), noise.source(recorder):
                fn(copy.deepcopy(self._blueprint), *[a[0] for a in args])
            self._plans[key] = recorder.shapes
        return self._plans[key]


def _prefix(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"model.{n}": t for n, t in tensors.items()}


class PackedAdam:
    """Adam (torch's fused or foreach kernel) over each run's two parameter groups: the model's, and the
    prior's (Theta, Phi). `step(trains_prior)` holds the prior group of the runs where it is False: its
    gradient is zeroed and its step count given back, which leaves a group that has never been stepped
    exactly as it was (REWO's initial phase comes first, so that is the only case Alg. 1 needs)."""

    def __init__(self, packed: PackedModel, lrs: Sequence[float]):
        self.packed = packed
        flat, grad, start = packed.flat, packed.flat_grad, packed.prior_start
        self.exp_avg, self.exp_avg_sq = torch.zeros_like(flat), torch.zeros_like(flat)
        self.steps = torch.zeros(packed.runs, 2, device=flat.device)  # (run, group): model, prior
        self.groups = [(0, start), (start, flat.shape[1])]
        fused = flat.device.type in ("cpu", "cuda")
        self.optimizer = torch.optim.Adam([{"params": [], "lr": lr} for lr in lrs], betas=ADAM_BETAS,
                                          eps=ADAM_EPS, fused=fused)
        for r, group in enumerate(self.optimizer.param_groups):
            for g, (a, b) in enumerate(self.groups):
                if a == b:
                    continue
                chunk = flat[r, a:b]
                chunk.grad = grad[r, a:b]
                group["params"].append(chunk)
                self.optimizer.state[chunk] = {"step": self.steps[r, g], "exp_avg": self.exp_avg[r, a:b],
                                               "exp_avg_sq": self.exp_avg_sq[r, a:b]}

    def set_lr(self, run: int, lr: float) -> None:
        self.optimizer.param_groups[run]["lr"] = lr

    def retire(self, run: int) -> None:
        """Stop updating run `run` (it has stopped early or diverged): the others go on alone."""
        self.optimizer.param_groups[run]["params"] = []

    @torch.no_grad()
    def step(self, trains_prior: torch.Tensor) -> None:
        a, b = self.groups[1]
        held = ~trains_prior[:, None]
        prior_grad = self.packed.flat_grad[:, a:b]
        prior_grad.copy_(torch.where(held, 0.0, prior_grad))
        self.optimizer.step()
        self.steps[:, 1].sub_(held[:, 0].to(self.steps.dtype))

    def zero_grad(self) -> None:
        self.packed.flat_grad.zero_()

    def state_dict(self, run: int) -> dict[str, Any]:
        return {"exp_avg": self.exp_avg[run].cpu().clone(), "exp_avg_sq": self.exp_avg_sq[run].cpu().clone(),
                "steps": self.steps[run].cpu().clone(), "lr": self.optimizer.param_groups[run]["lr"]}

    @torch.no_grad()
    def load_state_dict(self, run: int, state: dict[str, Any]) -> None:
        self.exp_avg[run].copy_(state["exp_avg"])
        self.exp_avg_sq[run].copy_(state["exp_avg_sq"])
        self.steps[run].copy_(state["steps"])
        self.optimizer.param_groups[run]["lr"] = state["lr"]
