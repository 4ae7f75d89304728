"""The cost model behind cluster time limits, against FLOPs counted by hand."""
import pytest

from vhp_core.runs.config import resolve_run
from vhp_core.runs.cost import nll_sample_flops, train_minutes, train_step_flops


def test_nll_flops_of_the_iwae_model_per_sample(config):
    """IWAE (L=1): encoder 784-200-200-(2 x 50) once per item, decoder 50-200-200-784 once per sample."""
    spec = resolve_run(config, "dynamic_mnist", "iwae_l1", 1)
    encoder = 784 * 200 + 200 * 200 + 200 * 100
    decoder = 50 * 200 + 200 * 200 + 200 * 784
    assert nll_sample_flops(spec, 784, samples=50) == pytest.approx(2 * (encoder / 50 + decoder))


def test_a_pack_costs_the_sum_of_its_runs_and_more_epochs_cost_more(config):
    one = resolve_run(config, "pendulum", "vhp_rewo", 1)
    two = resolve_run(config, "pendulum", "vhp_geco", 1)
    assert train_step_flops(one, 256) == train_step_flops(two, 256)  # the schedule costs no FLOPs
    single, pair = train_minutes([one], 256, 10_000), train_minutes([one, two], 256, 10_000)
    assert pair - 10 == pytest.approx(2 * (single - 10), abs=1)
    longer = {**one, "training": {**one["training"], "epochs": 2 * one["training"]["epochs"]}}
    assert train_minutes([longer], 256, 10_000) - 10 == pytest.approx(2 * (single - 10), abs=1)
