"""Training speed on this machine, in one run, as ratios to quantities measured in the same run
(issue 10, item 5): a shared machine's load moves absolute rates, ratios much less.

    python benchmarks/train_benchmark.py --threads 2            # full: 5.3 min on the idle machine
    python benchmarks/train_benchmark.py --threads 2 --quick    # smoke test: a few seconds per cell

Writes results/benchmarks/train_benchmark.{json,md} (`--out-dir` to change) and prints the table.

Cells
-----
(a) peak: the float32 matmul peak (2048^2, `nll_benchmark.matmul_peak_gflops`) with `--threads` threads.
(b) step: steps/s of one run and its linear-layer GFLOP/s as a fraction of that peak, for VHP + REWO
    (`vhp_rewo`), VampPrior, IWAE (L=1) and a plain VAE, each as the default config resolves it for
    dynamic_mnist (784-300-300-40, VHP prior 40-300-300-40 with K = 16; VampPrior gated with C = 500;
    IWAE Burda et al.'s 784-200-200-50, k = 50, batch 20) and for the pendulum (256-256-2, prior
    2-128-128-2 tanh, zeta 2; IWAE k = 10). The plain VAE is the dataset's own architecture (that of
    `vhp`) with the `standard_normal` prior, K = 1 and a constant beta = 1: the cost of a VHP step
    minus its prior.
(c) pack: R = 1, 3, 10 pendulum VHP + REWO runs (seeds 1..R) packed into one model, against the same
    R runs trained one by one on the same threads; MNIST VHP + REWO with R = 1, 3. Run-steps/s (R x
    steps/s of the pack) and their ratio.
(d) geco: VHP + GECO on the MNIST architecture with beta held at 1e-40 against beta = 1: a constant
    schedule at 1e-40 or 1 (the beta GECO reaches, without Eq. 5 moving it) on GECO's model; the held
    beta is read back from each run's summary. 1e-40 is a float32 denormal: unflushed, the
    gradient through beta * F fills the backward pass with denormals. The trainer flushes them
    (`tune_cpu_process` in `fit_pack`), but the flag is per thread: it reaches the
    calling thread and threads started after it, not an intra-op (OpenMP) thread pool that already
    runs. So the cell reports (i) the ratio as the trainer runs it in this process (whose pool has
    run the matmul peak, as a workflow job's has run its data loading), with a probe after the runs:
    the fraction of a parallel product of denormals flushed to 0 (1 = every thread flushes); (ii) the
    same cell in a fresh interpreter that flushes before its first parallel region, so that every
    thread inherits the flag (measured: no difference, as `_step` casts beta to float32 in the
    calling thread, where 1e-40 is flushed to 0 before any parallel work); (iii) a control at 1e-40
    with the trainer's flush turned off (`--no-control` skips it: it is slow), which shows what
    flushing saves.
(e) nll: `vhp_core.maths.nll.importance_sampled_nll` against the per-point reference loop of
    `benchmarks/nll_benchmark.py` (`reference_nll`, imported), both on the IWAE (L=1) MNIST model with
    random weights and S importance samples, random binary images: points/s and their ratio.
(f) compile: a pack of VHP + REWO runs with the prior's bound compiled (`runtime/compile`, torch.compile
    of the mapped loss call) against the same pack eager, on the pendulum (R = 5, the workflow's pack) and
    on the MNIST architecture (R = 3): pack steps/s and their ratio; the compile time falls in the first
    stretch, which is not timed. The config compiles the datasets where this ratio is above 1.

What is timed
-------------
The public `fit_pack` on generated `Splits` of the dataset's shape (`synthetic_splits`; dynamic MNIST
is re-binarised per minibatch as in training; a 10-item validation and test split; no snapshots),
one epoch, with the trainer's log points (`_Trainer._log_point`, intercepted as in
tests/test_train.py) as the clock: the time between two consecutive mid-epoch log points is
`log_every` steps as the trainer runs them (minibatch, dynamic binarisation, forward, schedule,
backward, Adam, the device-side log sums) plus one log point (its host transfer and CSV row). What a
run pays once (building and packing the models, recording the noise plan) and per epoch (the
permutation, the validation, publishing) lies outside these stretches, and so does the first
stretch of the epoch. A calibration fit with log points every 2 steps estimates the step; the
measuring fit logs every `log_every` = 100 steps (the config's; fewer when a stretch would take over
a quarter of the cell's seconds) for about 6 s. The shortest stretch counts: on a shared machine
other jobs only ever add time (the median is kept in the JSON). --quick measures 2 stretches of 2
steps and skips the calibration. The load average before and after is recorded.

FLOP counting
-------------
FLOPs of the linear layers only (`nn.Linear`, including the gated layers' doubled ones): forward hooks
count 2 x in x out per row on one forward pass of the run's loss as the trainer computes it (the
encoder on the batch, the decoder on every code, the VHP prior's q_Phi on every code and p_Theta on K
samples of zeta per code, VampPrior's encoder on its C pseudo-inputs), and a training step counts 3x
that (forward; backward to the inputs and to the weights, each the forward's MACs). This overcounts
the input gradient of the first encoder layer, which autograd skips (the data need none): 2.8 % of
the counted MNIST VHP step (784 x 300 of 2.83 M forward MACs per item, x3). Elementwise work,
reductions, VampPrior's mixture density (two float64 products per code) and Adam are not counted, so
the fraction of peak is that of the useful matrix work.
"""
import argparse
import contextlib
import copy
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts: benchmarks/ is not a package
from nll_benchmark import binary_data, matmul_peak_gflops, reference_nll, timed  # noqa: E402

from vhp_core.datasets import Splits  # noqa: E402
from vhp_core.io import write_text  # noqa: E402
from vhp_core.maths.nll import importance_sampled_nll  # noqa: E402
from vhp_core.runs import train  # noqa: E402
from vhp_core.runs.config import load_config, resolve_run  # noqa: E402
from vhp_core.runs.cost import train_step_flops  # noqa: E402
from vhp_core.runs.train import build_model, fit_pack  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "workflow" / "config" / "config.yaml"
OUT_DIR = ROOT / "results" / "benchmarks"
DATA = {"dynamic_mnist": (784, True), "static_mnist": (784, False), "pendulum": (256, False)}
"""Data dimension and dynamic binarisation of the datasets the synthetic splits imitate."""
ARCHITECTURES = {"mnist": "dynamic_mnist", "pendulum": "pendulum"}
STEP_METHODS = ("vhp_rewo", "vampprior", "iwae_l1", "vae")
PLAIN_VAE = "vae"
"""Not a config method: the dataset's architecture with a standard normal prior (see `run_spec`)."""
HELD_ITEMS = 10  # items of the synthetic validation and test splits


@dataclass
class Sizes:
    """How long the cells run: about `seconds` of timed steps per pack measured, in at most
    `max_stretches` stretches between log points; the NLL cell's samples and points."""

    seconds: float
    calibrate: bool
    calibration_stretches: int
    max_stretches: int
    pack_sizes: tuple[int, ...]
    mnist_pack_sizes: tuple[int, ...]
    nll_samples: int
    nll_points: int
    nll_reference_points: int
    compile_packs: tuple[tuple[str, int], ...]


FULL = Sizes(seconds=6.0, calibrate=True, calibration_stretches=4, max_stretches=12, pack_sizes=(1, 3, 10),
             mnist_pack_sizes=(1, 3), nll_samples=5000, nll_points=200, nll_reference_points=40,
             compile_packs=(("pendulum", 5), ("mnist", 3)))
QUICK = Sizes(seconds=0.3, calibrate=False, calibration_stretches=2, max_stretches=3, pack_sizes=(1, 3, 10),
              mnist_pack_sizes=(1, 3), nll_samples=200, nll_points=20, nll_reference_points=5,
              compile_packs=(("pendulum", 2),))


# ---------------------------------------------------------------------------------------------------
# Specs and data

def run_spec(config: dict[str, Any], dataset: str, method: str, seed: int, threads: int,
             device: str = "cpu") -> dict[str, Any]:
    """A run spec as the config resolves it, set up for timing: one epoch (its length is the data's),
    no snapshots, learning curves or early stopping, the given device and threads. `method` "vae" is the plain VAE: the
    spec of `vhp` on this dataset with the standard normal prior, K = 1 and beta = 1."""
    spec = resolve_run(config, dataset, "vhp" if method == PLAIN_VAE else method, seed)
    if method == PLAIN_VAE:
        spec.update(method=PLAIN_VAE, prior="standard_normal", prior_args={}, k=1,
                    schedule={"name": "constant", "beta_init": 1.0})
    spec.update(device=device, torch_threads=threads)
    spec["training"].update(epochs=1, snapshot_steps=[], snapshot_points=1)
    spec["training"].pop("early_stopping_patience", None)
    spec["training"].pop("train_items", None)
    spec.pop("curves", None)
    return spec


def synthetic_splits(dataset: str, n_train: int, held: int = HELD_ITEMS, seed: int = 0,
                     device: str | torch.device = "cpu") -> Splits:
    """Offline stand-in data of the dataset's shape that a VAE can learn: grey levels sigmoid(A u) of an
    8-dim standard normal u through a fixed random map A (a low-dimensional manifold, so the loss falls
    as in training on images). n_train training items and `held` each for validation and test. A
    statically binarised dataset binarises every split once; a dynamically binarised one keeps grey
    levels for training (the trainer re-binarises each minibatch) and binarises validation and test
    once, as the real loaders do; the pendulum's shape keeps grey levels."""
    dim, dynamic = DATA[dataset]
    g = torch.Generator().manual_seed(seed)
    mixing = 3.0 * torch.randn(8, dim, generator=g) / math.sqrt(8)
    x = torch.sigmoid(torch.randn(n_train + 2 * held, 8, generator=g) @ mixing)
    binary = "mnist" in dataset
    if binary and not dynamic:
        x = torch.bernoulli(x, generator=g)
    train, valid, test = x[:n_train], x[n_train:n_train + held], x[n_train + held:]
    if dynamic:
        valid, test = torch.bernoulli(valid, generator=g), torch.bernoulli(test, generator=g)
    side = math.isqrt(dim)
    return Splits(train.to(device), valid.to(device), test.to(device), (side, side), dynamic_binarization=dynamic)


# ---------------------------------------------------------------------------------------------------
# Timing (FLOPs: vhp_core.runs.cost.train_step_flops)

@dataclass
class Rate:
    """Seconds per step of a pack (all its runs at once), from the stretches between the trainer's log
    points: the shortest stretch counts (least disturbed by other load); the median is kept too."""

    seconds_per_step: float
    median_seconds_per_step: float
    stretches: int
    log_every: int

    @property
    def plan(self) -> tuple[int, int]:
        return self.log_every, self.stretches

    @property
    def steps_per_s(self) -> float:
        return 1.0 / self.seconds_per_step


@contextlib.contextmanager
def log_point_clock() -> Iterator[list[tuple[float, bool, int]]]:
    """Within the block, every `_Trainer._log_point` appends (time after it, mid-epoch?, steps since the
    previous one) to the yielded list: the time between two mid-epoch points is `log_every` steps plus
    one log point, as training spends it."""
    marks: list[tuple[float, bool, int]] = []
    original = train._Trainer._log_point

    def clocked(self: train._Trainer, bar: Any, seconds: float, valid: torch.Tensor | None = None) -> None:
        steps = self.window_steps
        original(self, bar, seconds, valid)
        marks.append((time.perf_counter(), valid is None, steps))

    with mock.patch.object(train._Trainer, "_log_point", clocked):
        yield marks


def stretch_seconds(marks: list[tuple[float, bool, int]]) -> list[float]:
    """Seconds per step of each stretch between two consecutive mid-epoch log points (`log_point_clock`'s
    marks); the stretch before the first one, which holds the epoch's start, is left out."""
    mid = [(t, n) for t, is_mid, n in marks if is_mid]
    return [(t1 - t0) / n1 for (t0, _), (t1, n1) in zip(mid, mid[1:], strict=False)]


def fit_pack_timed(specs: list[dict[str, Any]], splits: Splits, stretches: int,
                   log_every: int) -> tuple[list[float], list[dict[str, Any]]]:
    """Train the pack one epoch of (stretches + 1) x log_every + 1 steps in fresh run dirs; returns the
    seconds per step of each of the `stretches` stretches (`stretch_seconds`) and the runs' summaries."""
    steps = (stretches + 1) * log_every + 1
    specs = copy.deepcopy(specs)
    for spec in specs:
        spec["training"].update(epochs=1, train_items=steps * spec["training"]["batch_size"])
        spec["runtime"] = {**spec["runtime"], "log_every": log_every}
    with tempfile.TemporaryDirectory(prefix="train_benchmark_") as tmp, log_point_clock() as marks:
        summaries = fit_pack(specs, splits, [Path(tmp) / f"{s['method']}_seed{s['seed']}" for s in specs],
                             progress=False)
    return stretch_seconds(marks), summaries


def pack_rate(specs: list[dict[str, Any]], splits_for: Callable[[int], Splits], sizes: Sizes,
              on_summaries: Callable[[list[dict[str, Any]]], None] | None = None,
              plan: tuple[int, int] | None = None) -> Rate:
    """Seconds per step of the runs `specs` trained as one pack, from one fit of `plan` = (log_every,
    stretches). Without a plan, a calibration fit (log points every 2 steps) estimates the step, and the
    measuring fit logs every `log_every` steps of the config (fewer if a stretch would take over a
    quarter of the cell's seconds) for about `sizes.seconds`; --quick takes (2, calibration_stretches)."""
    def fit(log_every: int, stretches: int) -> list[float]:
        n = ((stretches + 1) * log_every + 1) * specs[0]["training"]["batch_size"]
        per_step, summaries = fit_pack_timed(specs, splits_for(n), stretches, log_every)
        if on_summaries is not None:
            on_summaries(summaries)
        return per_step

    if plan is None and not sizes.calibrate:
        plan = (2, sizes.calibration_stretches)
    if plan is None:
        estimate = min(fit(2, sizes.calibration_stretches))
        log_every = max(2, min(specs[0]["runtime"]["log_every"], int(sizes.seconds / 4 / estimate)))
        plan = (log_every, max(3, min(sizes.max_stretches, int(sizes.seconds / (log_every * estimate)))))
    per_step = fit(*plan)
    return Rate(min(per_step), statistics.median(per_step), len(per_step), plan[0])


def splits_maker(dataset: str, device: str = "cpu") -> Callable[[int], Splits]:
    """n -> synthetic splits with (at least) n training items, generated once for the largest n asked."""
    cache: list[Splits] = []

    def make(n: int) -> Splits:
        if not cache or len(cache[0].train) < n:
            cache[:] = [synthetic_splits(dataset, n, device=device)]
        return cache[0]

    return make


def denormals_flushed() -> float:
    """Fraction of 4 M float32 denormals (bit pattern 1, 1.4e-45) that a product by 2 flushes to 0 on the
    current intra-op threads: 1 when every thread flushes denormals (DAZ set), about 1/2 when one of two
    does not (the flag is per thread)."""
    tiny = torch.ones(1 << 22, dtype=torch.int32).view(torch.float32)
    return (tiny * 2.0 == 0).double().mean().item()


@contextlib.contextmanager
def denormals_unflushed() -> Iterator[None]:
    """Within the block `torch.set_flush_denormal(True)` (the trainer's call) turns flushing off: the
    control that shows what the flush saves."""
    original = torch.set_flush_denormal
    torch.set_flush_denormal = lambda on: original(False)
    try:
        yield
    finally:
        torch.set_flush_denormal = original
        original(False)


# ---------------------------------------------------------------------------------------------------
# Cells

def step_cell(config: dict[str, Any], arch: str, method: str, threads: int, sizes: Sizes,
              peak: float) -> dict[str, Any]:
    """(b) One run's training step: steps/s, GFLOP/s of its linear layers and the fraction of the peak."""
    dataset = ARCHITECTURES[arch]
    spec = run_spec(config, dataset, method, 1, threads)
    rate = pack_rate([spec], splits_maker(dataset), sizes)
    flops = train_step_flops(spec, DATA[dataset][0])
    gflops = flops * rate.steps_per_s / 1e9
    return {"arch": arch, "method": method, "batch_size": spec["training"]["batch_size"], "k": spec["k"],
            "steps_per_s": rate.steps_per_s, "ms_per_step": 1e3 * rate.seconds_per_step,
            "mflop_per_step": flops / 1e6, "gflops_per_s": gflops, "fraction_of_peak": gflops / peak,
            "timing": asdict(rate)}


def pack_cell(config: dict[str, Any], arch: str, runs: int, threads: int, sizes: Sizes) -> dict[str, Any]:
    """(c) R VHP + REWO runs (seeds 1..R) packed against the same runs trained one by one: run-steps/s
    and their ratio. The pack is measured twice and each run alone once; the shortest step counts in
    both: the runs differ only in seed, so one by one the R runs cost R x the fastest of their steps
    (a run that another job on the machine slowed down says nothing about the code)."""
    dataset = ARCHITECTURES[arch]
    specs = [run_spec(config, dataset, "vhp_rewo", seed, threads) for seed in range(1, runs + 1)]
    make = splits_maker(dataset)
    first_pack = pack_rate(specs, make, sizes)
    packs = [first_pack, pack_rate(specs, make, sizes, plan=first_pack.plan)]
    first = pack_rate(specs[:1], make, sizes)
    alone = [first] + [pack_rate([spec], make, sizes, plan=first.plan) for spec in specs[1:]]
    packed_rate = runs / min(r.seconds_per_step for r in packs)
    alone_rate = 1 / min(r.seconds_per_step for r in alone)
    return {"arch": arch, "runs": runs, "packed_run_steps_per_s": packed_rate, "one_by_one_run_steps_per_s": alone_rate,
            "speedup": packed_rate / alone_rate, "timing": {"packed": [asdict(r) for r in packs],
                                                            "one_by_one": [asdict(r) for r in alone]}}


def compile_cell(config: dict[str, Any], arch: str, runs: int, threads: int, sizes: Sizes) -> dict[str, Any]:
    """(f) R VHP + REWO runs packed, the prior's bound compiled against eager: pack steps/s and their ratio.
    Eager, compiled, eager again, compiled again, at one plan; the fastest step of each counts."""
    dataset = ARCHITECTURES[arch]
    specs = {on: [run_spec(config, dataset, "vhp_rewo", seed, threads) for seed in range(1, runs + 1)]
             for on in (False, True)}
    for on, pack in specs.items():
        for spec in pack:
            spec["runtime"] = {**spec["runtime"], "compile": on}
    make = splits_maker(dataset)
    first = pack_rate(specs[False], make, sizes)
    rates: dict[bool, list[Rate]] = {False: [first], True: []}
    for on in (True, False, True):
        rates[on].append(pack_rate(specs[on], make, sizes, plan=first.plan))
    eager, compiled = (1 / min(r.seconds_per_step for r in rates[on]) for on in (False, True))
    return {"arch": arch, "runs": runs, "eager_steps_per_s": eager, "compiled_steps_per_s": compiled,
            "speedup": compiled / eager, "timing": {str(on): [asdict(r) for r in rs] for on, rs in rates.items()}}


def geco_spec(config: dict[str, Any], threads: int, beta: float) -> dict[str, Any]:
    """VHP + GECO's model on the MNIST architecture with beta held at `beta` (a constant schedule: the
    beta GECO reaches, without Eq. 5 moving it)."""
    spec = run_spec(config, "dynamic_mnist", "vhp_geco", 1, threads)
    spec["schedule"] = {"name": "constant", "beta_init": beta}
    return spec


def geco_cell(config: dict[str, Any], threads: int, sizes: Sizes, control: bool) -> dict[str, Any]:
    """(d) The GECO step at beta = 1e-40 against beta = 1, with the beta each run held (from its summary)
    and the flush probe after the runs; with `control`, also at 1e-40 with flushing turned off."""
    make = splits_maker("dynamic_mnist")
    out: dict[str, Any] = {"arch": "mnist", "method": "vhp_geco, beta held constant"}
    for key, beta in (("beta_1", 1.0), ("beta_1e-40", 1e-40)):
        held: list[float] = []
        rate = pack_rate([geco_spec(config, threads, beta)], make, sizes,
                         on_summaries=lambda summaries, held=held: held.append(summaries[0]["final_beta"]))
        out[key] = {"ms_per_step": 1e3 * rate.seconds_per_step, "held_beta": held[-1], "timing": asdict(rate)}
    out["denormals_flushed_after_fit"] = denormals_flushed()
    out["ratio"] = out["beta_1e-40"]["ms_per_step"] / out["beta_1"]["ms_per_step"]
    if control:
        with denormals_unflushed():
            rate = pack_rate([geco_spec(config, threads, 1e-40)], make, sizes)
        out["unflushed_ms_per_step"] = 1e3 * rate.seconds_per_step
        out["unflushed_ratio"] = out["unflushed_ms_per_step"] / out["beta_1"]["ms_per_step"]
    return out


def geco_cell_all_threads_flushed(threads: int, quick: bool) -> dict[str, Any]:
    """(d') The GECO cell in a fresh interpreter that flushes denormals before its first parallel region,
    so that every intra-op thread inherits the flag: what the trainer's flush would give if it reached
    all threads."""
    cmd = [sys.executable, __file__, "--geco-child", "--threads", str(threads), *(["--quick"] if quick else [])]
    result = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def nll_cell(config: dict[str, Any], sizes: Sizes) -> dict[str, Any]:
    """(e) The NLL evaluator against the per-point reference loop on the IWAE (L=1) MNIST model."""
    spec = run_spec(config, "dynamic_mnist", "iwae_l1", 1, torch.get_num_threads())
    torch.manual_seed(0)
    model = build_model(spec, 784).eval()
    x = binary_data(sizes.nll_points, 0)
    s = sizes.nll_samples
    eval_s, _ = timed(lambda: importance_sampled_nll(model, x, s), 1)
    ref_s, _ = timed(lambda: reference_nll(model, x[:sizes.nll_reference_points], s), 1)
    ours, ref = sizes.nll_points / eval_s, sizes.nll_reference_points / ref_s
    return {"model": "iwae_l1 on MNIST (784-200-200-50)", "samples": s, "points": sizes.nll_points,
            "reference_points": sizes.nll_reference_points, "evaluator_points_per_s": ours,
            "reference_points_per_s": ref, "speedup": ours / ref}


# ---------------------------------------------------------------------------------------------------

def run(threads: int, quick: bool, control: bool = True, child: bool = True) -> dict[str, Any]:
    """Every cell in one process; `child` adds the GECO cell in a fresh interpreter (d')."""
    sizes = QUICK if quick else FULL
    torch.set_num_threads(threads)
    config = load_config(CONFIG)
    start = time.perf_counter()
    load_before = os.getloadavg()
    peak = matmul_peak_gflops(threads)
    results: dict[str, Any] = {
        "threads": threads, "quick": quick, "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "matmul_peak_gflops_per_s": peak, "load_average_before": load_before, "code": code_version(),
    }
    results["step"] = [step_cell(config, arch, method, threads, sizes, peak)
                       for arch in ARCHITECTURES for method in STEP_METHODS]
    results["pack"] = ([pack_cell(config, "pendulum", r, threads, sizes) for r in sizes.pack_sizes]
                       + [pack_cell(config, "mnist", r, threads, sizes) for r in sizes.mnist_pack_sizes])
    results["compile"] = [compile_cell(config, arch, r, threads, sizes) for arch, r in sizes.compile_packs]
    results["geco"] = geco_cell(config, threads, sizes, control)
    if child:
        results["geco_all_threads_flushed"] = geco_cell_all_threads_flushed(threads, quick)
    torch.set_num_threads(threads)
    results["nll"] = nll_cell(config, sizes)
    results["load_average_after"] = os.getloadavg()
    results["seconds"] = time.perf_counter() - start
    return results


def code_version() -> dict[str, Any]:
    """The commit measured and the files that differed from it (the working tree is shared)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout

    return {"commit": git("rev-parse", "--short", "HEAD").strip(),
            "modified": [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]}


def ratios(results: dict[str, Any]) -> dict[str, float]:
    """Every ratio the benchmark reports, by name (the test checks each is finite and positive)."""
    out = {f"fraction_of_peak/{c['arch']}/{c['method']}": c["fraction_of_peak"] for c in results["step"]}
    out |= {f"pack_speedup/{c['arch']}/R{c['runs']}": c["speedup"] for c in results["pack"]}
    out |= {f"compile_speedup/{c['arch']}/R{c['runs']}": c["speedup"] for c in results["compile"]}
    out["geco_1e-40_over_1"] = results["geco"]["ratio"]
    if "unflushed_ratio" in results["geco"]:
        out["geco_1e-40_unflushed_over_1"] = results["geco"]["unflushed_ratio"]
    if "geco_all_threads_flushed" in results:
        out["geco_1e-40_over_1_all_threads_flushed"] = results["geco_all_threads_flushed"]["ratio"]
    out["nll_speedup"] = results["nll"]["speedup"]
    return out


def _samples(cell: dict[str, Any]) -> str:
    """The importance samples of a step cell's method, for its label."""
    return f" (K = {cell['k']})" if cell["k"] > 1 else ""


def markdown(r: dict[str, Any]) -> str:
    """The tables of the README's Benchmarks section."""
    g = r["geco"]
    lines = [
        f"Training benchmark: {r['threads']} thread(s) of {r['cpus']} CPUs ({r['machine']}), torch {r['torch']}, "
        f"float32 matmul peak **{r['matmul_peak_gflops_per_s']:.1f} GFLOP/s**"
        f"{' (--quick: numbers mean little)' if r['quick'] else ''}; {r['seconds'] / 60:.1f} min, load average "
        f"{r['load_average_before'][0]:.1f} before, {r['load_average_after'][0]:.1f} after.",
        "",
        "| training step (one run) | batch | steps/s | ms/step | linear GFLOP/s | % of matmul peak |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {c['arch']}: {c['method']}{_samples(c)} | {c['batch_size']} | "
              f"{c['steps_per_s']:.1f} | {c['ms_per_step']:.2f} | {c['gflops_per_s']:.1f} | "
              f"{100 * c['fraction_of_peak']:.0f} % |" for c in r["step"]]
    lines += ["", "| VHP + REWO runs (R) | packed run-steps/s | one by one run-steps/s | packed / one by one |",
              "|---|---|---|---|"]
    lines += [f"| {c['arch']}, R = {c['runs']} | {c['packed_run_steps_per_s']:.1f} | "
              f"{c['one_by_one_run_steps_per_s']:.1f} | {c['speedup']:.2f}x |" for c in r["pack"]]
    lines += ["", "| VHP + REWO pack, prior's bound compiled (runtime/compile) | eager pack steps/s | "
              "compiled | compiled / eager |", "|---|---|---|---|"]
    lines += [f"| {c['arch']}, R = {c['runs']} | {c['eager_steps_per_s']:.1f} | {c['compiled_steps_per_s']:.1f} | "
              f"{c['speedup']:.2f}x |" for c in r["compile"]]
    lines += ["", "| GECO step, MNIST VHP (beta held constant) | ms/step | / beta = 1 |", "|---|---|---|",
              f"| beta = 1 | {g['beta_1']['ms_per_step']:.1f} | 1 |",
              f"| beta = {g['beta_1e-40']['held_beta']:.0e}, as the trainer runs it (denormals flushed in "
              f"{100 * g['denormals_flushed_after_fit']:.0f} % of a parallel op's work) | "
              f"{g['beta_1e-40']['ms_per_step']:.1f} | {g['ratio']:.2f}x |"]
    if "geco_all_threads_flushed" in r:
        c = r["geco_all_threads_flushed"]
        lines.append(f"| beta = 1e-40, flush set before the thread pool starts (every thread flushes: "
                     f"{100 * c['denormals_flushed_after_fit']:.0f} %; own beta = 1 at "
                     f"{c['beta_1']['ms_per_step']:.1f} ms) | {c['beta_1e-40']['ms_per_step']:.1f} | "
                     f"{c['ratio']:.2f}x |")
    if "unflushed_ms_per_step" in g:
        lines.append(f"| beta = 1e-40, flushing off (control) | {g['unflushed_ms_per_step']:.1f} | "
                     f"{g['unflushed_ratio']:.2f}x |")
    n = r["nll"]
    lines += ["", f"| NLL, {n['model']}, S = {n['samples']} | points/s |", "|---|---|",
              f"| `importance_sampled_nll` ({n['points']} points) | {n['evaluator_points_per_s']:.2f} |",
              f"| per-point reference loop ({n['reference_points']} points) | {n['reference_points_per_s']:.2f} |",
              f"| ratio | {n['speedup']:.2f}x |"]
    return "\n".join(lines)


def write(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {**results, "ratios": ratios(results)}
    json_path, md_path = out_dir / "train_benchmark.json", out_dir / "train_benchmark.md"
    write_text(json_path, json.dumps(results, indent=2) + "\n")
    write_text(md_path, markdown(results) + "\n")
    return json_path, md_path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads for every cell")
    parser.add_argument("--quick", action="store_true", help="a few seconds per cell: a smoke test")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where the JSON and markdown go")
    parser.add_argument("--no-control", action="store_true", help="skip the slow unflushed GECO control")
    parser.add_argument("--geco-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.geco_child:  # flush before any parallel region, so that every pool thread inherits the flag
        torch.set_num_threads(args.threads)
        torch.set_flush_denormal(True)
        cell = geco_cell(load_config(CONFIG), args.threads, QUICK if args.quick else FULL, control=False)
        print(json.dumps(cell))
        return cell
    results = run(args.threads, args.quick, control=not args.no_control)
    paths = write(results, args.out_dir)
    print(markdown(results))
    print(f"\nwritten: {', '.join(map(str, paths))}")
    return results


if __name__ == "__main__":
    main()
