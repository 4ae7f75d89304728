"""Speed, FLOP rate and peak memory of the importance-sampled NLL (Table 2) on an MNIST-sized VHP model
(or, `--model iwae`, Burda et al.'s IWAE (L=1) 784-200-200-50, the model of train_benchmark's NLL cell).

Not part of the test suite. Random weights: the matmuls' cost does not depend on training, the
elementwise work's does (a trained decoder's logits reach -100 and below, where softplus meets
denormals); tune_cpu_process flushes them, here as in evaluate_nll. Full scale (the defaults; about 15
minutes on one thread, most of it the N = 10,000 memory probe at S = 5000):

    python benchmarks/nll_benchmark.py --out nll_benchmark.json

Reduced scale (about two minutes on one busy thread):

    python benchmarks/nll_benchmark.py --n 200 --n-ref 20 --mem-n 500 --out nll_benchmark.json
"""
import argparse
import json
import math
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.special import logsumexp
from torch import nn
from torch.utils import benchmark

from vhp_core.devices import tune_cpu_process
from vhp_core.io import write_text
from vhp_core.maths.model import VAE, ModelConfig
from vhp_core.maths.nll import DEFAULT_BATCH, DEFAULT_CHUNK, importance_sampled_nll

REFERENCE_MB = 100  # rows per forward pass in vae_vampprior's calculate_likelihood
MATMUL_SIZE = 2048  # square float32 matmul for the machine's peak


MODELS = {  # 784-dim Bernoulli data
    # d_z = 40, MLP 300-300 encoder/decoder, VHP prior with d_zeta = 40 and 300-300
    "vhp": ModelConfig(data_dim=784, latent_dim=40, hidden=[300, 300], activation="tanh", likelihood="bernoulli",
                       prior="vhp", prior_args={"zeta_dim": 40, "hidden": [300, 300], "activation": "tanh"}),
    # IWAE (L=1) of Burda et al. 2016: d_z = 50, MLP 200-200, standard normal prior
    "iwae": ModelConfig(data_dim=784, latent_dim=50, hidden=[200, 200], activation="tanh", likelihood="bernoulli",
                        prior="standard_normal", prior_args={}),
}


def mnist_model(name: str, seed: int) -> VAE:
    """The MNIST-sized model `name` of MODELS with random weights."""
    torch.manual_seed(seed)
    return VAE(MODELS[name]).eval()


def binary_data(n: int, seed: int) -> torch.Tensor:
    """n random binary images, (n, 784), drawn in place so no temporary inflates the memory baseline."""
    return torch.empty(n, 784).bernoulli_(0.5, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def reference_nll(model: VAE, x: torch.Tensor, samples: int) -> np.ndarray:
    """The reference implementations' loop (vae_vampprior's calculate_likelihood): per data point, x
    repeated in mini-batches of 100 rows through the whole model, weights gathered in NumPy, logsumexp."""
    mb = min(REFERENCE_MB, samples)
    if samples % mb:
        raise ValueError(f"the reference needs S to be a multiple of {mb}, got {samples}")
    nll = []
    for xi in x:
        w = [model.log_importance_weights(xi.expand(mb, -1), 1).cpu().numpy().ravel() for _ in range(samples // mb)]
        nll.append(-(logsumexp(np.concatenate(w)) - math.log(samples)))
    return np.array(nll)


def linear_flops(module: nn.Module) -> int:
    """FLOPs per input row through every linear layer of `module`: 2 * in * out each."""
    return sum(2 * m.in_features * m.out_features for m in module.modules() if isinstance(m, nn.Linear))


def evaluator_flops(model: VAE, n: int, samples: int) -> int:
    """Linear-layer FLOPs of importance_sampled_nll with the default chunking: the encoder runs once per
    item and model call, the decoder and the prior (q_Phi then p_Theta) once per item and sample."""
    calls = math.ceil(samples / DEFAULT_CHUNK)
    per_sample = linear_flops(model.decoder) + linear_flops(model.prior)
    return n * (calls * linear_flops(model.encoder) + samples * per_sample)


def reference_flops(model: VAE, n: int, samples: int) -> int:
    """Linear-layer FLOPs of reference_nll: every row goes through the encoder, the decoder and the prior."""
    return n * samples * (linear_flops(model.encoder) + linear_flops(model.decoder) + linear_flops(model.prior))


def linear_seconds(module: nn.Module, rows: int, threads: int) -> float:
    """Time of `rows` rows through every linear layer of `module` one after the other, nothing else."""
    total = 0.0
    for layer in (m for m in module.modules() if isinstance(m, nn.Linear)):
        timer = benchmark.Timer("with torch.no_grad():\n    layer(x)", num_threads=threads,
                                globals={"torch": torch, "layer": layer, "x": torch.randn(rows, layer.in_features)})
        total += timer.blocked_autorange(min_run_time=0.2).median
    return total


def evaluator_linear_seconds(model: VAE, samples: int, threads: int) -> float:
    """Seconds per point of importance_sampled_nll if it spent them in its linear layers only, at its
    own matrix shapes (the encoder on a batch, the decoder and the prior on chunk x batch rows)."""
    rows = DEFAULT_CHUNK * DEFAULT_BATCH
    per_call = (linear_seconds(model.encoder, DEFAULT_BATCH, threads) + linear_seconds(model.decoder, rows, threads)
                + linear_seconds(model.prior, rows, threads))
    return math.ceil(samples / DEFAULT_CHUNK) * per_call / DEFAULT_BATCH


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Shortest wall time of `repeats` calls of fn(), and the last call's result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def matmul_peak_gflops(threads: int) -> float:
    """Best GFLOP/s of a large float32 matmul, as torch's attainable peak on this machine."""
    a, b = torch.randn(MATMUL_SIZE, MATMUL_SIZE), torch.randn(MATMUL_SIZE, MATMUL_SIZE)
    timer = benchmark.Timer("a @ b", globals={"a": a, "b": b}, num_threads=threads)
    return 2 * MATMUL_SIZE**3 / min(timer.blocked_autorange(min_run_time=2.0).times) / 1e9


def memory_mib(field: str) -> float:
    """VmRSS (resident now) or VmHWM (resident high-water mark) of this process, MiB (Linux). Not
    ru_maxrss: across exec it keeps the parent's peak, which would hide the child's own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    raise KeyError(field)


def probe_memory(model_name: str, n: int, samples: int, threads: int, seed: int) -> dict[str, float]:
    """Run in a fresh process: resident set before the NLL and its high-water mark after."""
    tune_cpu_process()  # as evaluate_nll does, before the first parallel op
    torch.set_num_threads(threads)
    model, x = mnist_model(model_name, seed), binary_data(n, seed)
    before = memory_mib("VmRSS")
    start = time.perf_counter()
    importance_sampled_nll(model, x, samples)
    seconds = time.perf_counter() - start
    peak = memory_mib("VmHWM")
    return {"n": n, "samples": samples, "rss_before_mib": before, "rss_peak_mib": peak,
            "increase_mib": peak - before, "seconds": seconds}


def memory_in_subprocess(model_name: str, n: int, samples: int, threads: int, seed: int) -> dict[str, float]:
    """probe_memory in a fresh interpreter, so neither this process's peak nor its caches count."""
    cmd = [sys.executable, __file__, "--model", model_name, "--probe", str(n), str(samples), "--threads", str(threads),
           "--seed", str(seed)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def run(args: argparse.Namespace, tuned: bool) -> dict[str, Any]:
    model = mnist_model(args.model, args.seed)
    x = binary_data(args.n, args.seed)
    eval_s, nll = timed(lambda: importance_sampled_nll(model, x, args.samples), args.repeats)
    ref_s, ref_nll = timed(lambda: reference_nll(model, x[:args.n_ref], args.samples), args.repeats)
    flops, ref_flops = evaluator_flops(model, args.n, args.samples), reference_flops(model, args.n_ref, args.samples)
    peak = matmul_peak_gflops(args.threads)
    linear_s = evaluator_linear_seconds(model, args.samples, args.threads)
    memory = [memory_in_subprocess(args.model, args.mem_n, s, args.threads, args.seed) for s in args.mem_samples]
    return {
        "model": args.model, "samples": args.samples, "threads": args.threads, "chunk": DEFAULT_CHUNK,
        "batch_size": DEFAULT_BATCH,
        "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
        "tuned_process": tuned,
        "throughput": {"n": args.n, "n_ref": args.n_ref, "repeats": args.repeats,
                       "evaluator_points_per_s": args.n / eval_s, "reference_points_per_s": args.n_ref / ref_s,
                       "speedup": (args.n / eval_s) / (args.n_ref / ref_s),
                       "evaluator_mean_nll": nll[:args.n_ref].mean().item(),  # the reference's points
                       "reference_mean_nll": float(ref_nll.mean())},
        "flops": {"evaluator_gflop": flops / 1e9, "evaluator_gflops_per_s": flops / eval_s / 1e9,
                  "matmul_peak_gflops_per_s": peak, "fraction_of_peak": flops / eval_s / 1e9 / peak,
                  "reference_gflops_per_s": ref_flops / ref_s / 1e9,
                  "flops_per_point_reference_over_evaluator": (ref_flops / args.n_ref) / (flops / args.n),
                  # the speed-up if ours ran at the matmul peak and the reference at its measured rate
                  "speedup_ceiling": (ref_flops / args.n_ref) / (flops / args.n) * peak / (ref_flops / ref_s / 1e9),
                  # the time per point of its linear layers alone, at its shapes, against the measured one
                  "linear_layers_seconds_per_point": linear_s, "linear_layers_share": linear_s / (eval_s / args.n),
                  "speedup_if_only_linear_layers": (ref_s / args.n_ref) / linear_s},
        "memory": memory,
    }


def markdown(r: dict[str, Any]) -> str:
    t, f = r["throughput"], r["flops"]
    lines = [
        f"NLL benchmark: {r['model']} model, S = {r['samples']}, {r['threads']} thread(s), "
        f"chunk {r['chunk']} x batch {r['batch_size']}, torch {r['torch']}, "
        f"tune_cpu_process (denormals flushed, malloc keeps freed memory): {r['tuned_process']}",
        "",
        "| measure | value |",
        "|---|---|",
        f"| evaluator, points/s ({t['n']} points, best of {t['repeats']}) | {t['evaluator_points_per_s']:.2f} |",
        f"| reference loop, points/s ({t['n_ref']} points) | {t['reference_points_per_s']:.2f} |",
        f"| speed-up (target >= 4x) | {t['speedup']:.2f}x |",
        f"| mean NLL on the reference's points: evaluator / reference | {t['evaluator_mean_nll']:.3f} / "
        f"{t['reference_mean_nll']:.3f} |",
        f"| evaluator GFLOP/s (linear layers) | {f['evaluator_gflops_per_s']:.1f} |",
        f"| float32 matmul peak GFLOP/s ({MATMUL_SIZE}^2) | {f['matmul_peak_gflops_per_s']:.1f} |",
        f"| fraction of matmul peak | {f['fraction_of_peak']:.2f} |",
        f"| reference loop GFLOP/s (linear layers) | {f['reference_gflops_per_s']:.1f} |",
        f"| FLOPs per point, reference / evaluator (speed-up at equal GFLOP/s) | "
        f"{f['flops_per_point_reference_over_evaluator']:.2f} |",
        f"| speed-up ceiling: that ratio x matmul peak / reference GFLOP/s | {f['speedup_ceiling']:.2f}x |",
        f"| evaluator's linear layers alone at its shapes, share of its time | {f['linear_layers_share']:.2f} |",
        f"| speed-up if it spent nothing outside them | {f['speedup_if_only_linear_layers']:.2f}x |",
        "",
        "| N | S | RSS before (MiB) | peak RSS (MiB) | increase (MiB) | seconds |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {m['n']} | {m['samples']} | {m['rss_before_mib']:.0f} | {m['rss_peak_mib']:.0f} | "
              f"{m['increase_mib']:.0f} | {m['seconds']:.1f} |" for m in r["memory"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="JSON results path (required)")
    parser.add_argument("--samples", type=int, default=5000, help="importance samples S for the throughput runs")
    parser.add_argument("--n", type=int, default=1000, help="data points timed through the evaluator")
    parser.add_argument("--n-ref", type=int, default=100, help="data points timed through the reference loop")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats; the best counts")
    parser.add_argument("--mem-n", type=int, default=10000, help="data points of each memory probe")
    parser.add_argument("--mem-samples", type=lambda s: [int(v) for v in s.split(",")], default=[500, 5000],
                        help="comma-separated S of the memory probes, one fresh process each")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the project trains with 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", choices=sorted(MODELS), default="vhp", help="which MNIST-sized model")
    parser.add_argument("--probe", type=int, nargs=2, metavar=("N", "S"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe_memory(args.model, *args.probe, args.threads, args.seed)))
        return
    if args.out is None:
        parser.error("--out is required")
    tuned = tune_cpu_process()  # as evaluate_nll does, before the first parallel op; the reference runs under it too
    torch.set_num_threads(args.threads)
    results = run(args, tuned)
    write_text(args.out, json.dumps(results, indent=2) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
