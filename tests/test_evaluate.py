"""Active units and the test subset of a reduced-scale NLL."""
import torch

from vhp_core.maths.nll import nll_subset
from vhp_core.runs.evaluate import active_units


def test_active_units_counts_dimensions_with_varying_means():
    mu = torch.cat([torch.randn(1000, 3), 0.01 * torch.randn(1000, 2)], dim=1)
    assert active_units(mu) == 3


def test_the_nll_subset_is_random_fixed_and_spans_a_sorted_test_set():
    labels = torch.arange(10).repeat_interleave(1000)  # sorted by class, like static MNIST's test file
    subset = nll_subset(10_000, 2_000)
    assert len(subset) == len(set(subset.tolist())) == 2_000 and torch.equal(subset, nll_subset(10_000, 2_000))
    counts = torch.bincount(labels[subset], minlength=10)
    assert counts.min() > 150, counts  # every class, about 200 each; the first 2,000 would be classes 0 and 1 only
    assert torch.equal(nll_subset(500, None), torch.arange(500))
    assert torch.equal(nll_subset(500, 800), torch.arange(500))
