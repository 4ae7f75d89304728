"""The Bernoulli log-likelihood: its value against independent float64 computations, for grey levels
and for logits of any size, its gradient, and that it never builds x broadcast to the logits' shape."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from vhp_core.maths.distributions import log_bernoulli_logits

S, B, D = 6, 5, 784


def grey_levels(*shape: int) -> torch.Tensor:
    """Data in [0, 1] with exact 0s and 1s among them."""
    x = torch.rand(*shape)
    x[..., :10], x[..., 10:20] = 0.0, 1.0
    return x


def reference(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """sum_d x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)) in float64, straight from the definition."""
    p = torch.sigmoid(logits.double())
    return (x.double() * torch.log(p) + (1 - x.double()) * torch.log(1 - p)).sum(-1)


def float32_tolerance(logits: torch.Tensor) -> torch.Tensor:
    """The two sums cancel: float32 rounding grows with sum_d |l_d| (a few units of 6e-8 of it)."""
    return 1e-6 * logits.double().abs().sum(-1) + 1e-5


@pytest.fixture(params=[True, False], ids=["grad", "no_grad"])
def grad_mode(request):
    """Both ways of computing x . l: elementwise with gradients, a matrix product without (the NLL)."""
    with torch.set_grad_enabled(request.param):
        yield


def test_at_zero_logits_every_pixel_costs_log_2_whatever_x(grad_mode):
    value = log_bernoulli_logits(grey_levels(B, D), torch.zeros(S, B, D))
    torch.testing.assert_close(value, torch.full((S, B), -D * math.log(2.0)), rtol=1e-6, atol=0)


def test_grey_levels_match_the_definition_with_and_without_a_sample_axis(grad_mode):
    torch.manual_seed(0)
    x = grey_levels(B, D)
    # S samples per item, one, none; |l| < 30, so float64's sigmoid stays inside (0, 1)
    for logits in (4 * torch.randn(S, B, D), 4 * torch.randn(1, B, D), 4 * torch.randn(B, D)):
        value, expected = log_bernoulli_logits(x, logits), reference(x, logits)
        assert value.shape == logits.shape[:-1]
        assert ((value.double() - expected).abs() <= float32_tolerance(logits)).all()


def test_it_equals_the_cross_entropy_it_replaces(grad_mode):
    torch.manual_seed(1)
    x, logits = grey_levels(B, D), 6 * torch.randn(S, B, D)
    bce = -F.binary_cross_entropy_with_logits(*torch.broadcast_tensors(logits.double(), x.double()),
                                              reduction="none").sum(-1)
    assert ((log_bernoulli_logits(x, logits).double() - bce).abs() <= float32_tolerance(logits)).all()


def test_huge_logits_stay_finite_and_exact(grad_mode):
    """|l| = 1e4: a pixel that agrees with its logit costs nothing, one that disagrees costs |l|."""
    sign = torch.randint(0, 2, (S, B, D)).float() * 2 - 1
    logits = 1e4 * sign
    agree = (sign > 0).float()[0]  # (B, D): x agrees with the first sample's logits
    value = log_bernoulli_logits(agree, logits)
    expected = -1e4 * (agree != (sign > 0)).double().sum(-1)  # (S, B)
    assert torch.isfinite(value).all() and value[0].eq(0).all()
    assert ((value.double() - expected).abs() <= float32_tolerance(logits)).all()


def test_the_gradient_is_x_minus_sigmoid():
    torch.manual_seed(2)
    x, logits = grey_levels(B, D), (5 * torch.randn(S, B, D)).requires_grad_()
    log_bernoulli_logits(x, logits).sum().backward()
    torch.testing.assert_close(logits.grad, x - torch.sigmoid(logits.detach()), rtol=0, atol=1e-6)


def test_without_gradients_x_is_never_broadcast_to_the_logits_shape():
    """One (S, B, D) tensor is allocated, the softplus of the logits; x meets them in a matrix product
    (the cross-entropy form allocated three: log-sigmoid, 1 - x and the loss)."""
    x, logits = grey_levels(B, D), torch.randn(S, B, D)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof, torch.no_grad():
        log_bernoulli_logits(x, logits)
    allocated = [e.self_cpu_memory_usage for e in prof.events() if e.self_cpu_memory_usage > 0]  # bytes per op
    assert sum(size >= logits.nbytes for size in allocated) == 1, allocated
