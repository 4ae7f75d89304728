"""Spread over seeds and paired comparisons between methods, for every table with seeds."""
import numpy as np
import pandas as pd

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0  # the same resamples for every comparison, so a table is a deterministic function of its runs
LEVEL = 0.95
MIN_PAIRS = 5
"""Fewest seeds for an interval: below it the bootstrap has too few distinct resamples to cover (at 3
seeds there are 10 distinct means, and the 95% interval spans little more than the extreme ones)."""


def spread(values: np.ndarray) -> dict[str, float]:
    """Mean, population std, median and interquartile range of per-seed values (NaN where empty;
    std NaN for one value, where there is no spread to show)."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return dict.fromkeys(("mean", "std", "median", "q25", "q75"), float("nan"))
    q25, median, q75 = np.percentile(v, [25, 50, 75])
    return {"mean": float(v.mean()), "std": float(v.std()) if len(v) > 1 else float("nan"),
            "median": float(median), "q25": float(q25), "q75": float(q75)}


def seed_correlation(a: pd.Series, b: pd.Series, ranks: bool = False) -> float:
    """Correlation of two per-seed series on the seeds both have (Pearson; Spearman's with `ranks`): near 1
    when each seed keeps its place whatever the setting or method. NaN below 3 common seeds or where either
    is constant there, as there is then nothing to correlate."""
    a, b = a.align(b, join="inner")
    keep = a.notna() & b.notna()
    a, b = a[keep], b[keep]
    if len(a) < 3 or a.nunique() < 2 or b.nunique() < 2:
        return float("nan")
    return float(a.rank().corr(b.rank()) if ranks else a.corr(b))


def paired_bootstrap(differences: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES, level: float = LEVEL,
                     seed: int = BOOTSTRAP_SEED, min_pairs: int = MIN_PAIRS) -> dict[str, float]:
    """Mean of per-seed differences (method minus reference, on the same seeds) and its percentile
    bootstrap confidence interval: seeds resampled with replacement. `within_noise` when the interval
    holds 0. With fewer than `min_pairs` pairs there is no interval (NaN) and nothing is decided."""
    d = np.asarray(differences, dtype=float)
    if len(d) < min_pairs:
        return {"n_pairs": len(d), "diff": float(d.mean()) if len(d) else float("nan"),
                "ci_low": float("nan"), "ci_high": float("nan"), "within_noise": None}
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1)
    low, high = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return {"n_pairs": len(d), "diff": float(d.mean()), "ci_low": float(low), "ci_high": float(high),
            "within_noise": bool(low <= 0.0 <= high)}
