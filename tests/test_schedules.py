"""Beta updates against hand-worked values of Eq. 5 and Eq. 11-12, and the schedules' phases."""
import math

import pytest

from vhp_core.schedules import Constant, Geco, LinearWarmup, Rewo, f_beta, geco_update, rewo_update


def test_geco_update_hand_worked():
    assert geco_update(0.5, 0.2, 1.0) == pytest.approx(0.5 * math.exp(-0.2))  # 0.409365
    assert geco_update(0.5, -0.2, 2.0) == pytest.approx(0.5 * math.exp(0.4))  # grows past any cap


def test_rewo_violated_constraint_is_geco():
    for beta, delta, nu in [(0.5, 0.2, 1.0), (1.0, 0.01, 3.0), (1e-3, 2.0, 0.5)]:
        assert rewo_update(beta, delta, nu, 3.0) == pytest.approx(geco_update(beta, delta, nu))


def test_rewo_satisfied_constraint_hand_worked():
    # beta < 1: f = tanh(3 * -0.5) = -0.905148; exponent = -0.905148 * -0.2 = +0.181030
    assert rewo_update(0.5, -0.2, 1.0, 3.0) == pytest.approx(0.5 * math.exp(0.1810296), rel=1e-6)
    assert rewo_update(0.5, -0.2, 1.0, 3.0) == pytest.approx(0.599224, rel=1e-5)
    # beta > 1: f = tanh(3) = 0.995055; exponent = 0.995055 * -0.5 = -0.497527
    assert rewo_update(2.0, -0.5, 1.0, 3.0) == pytest.approx(1.216064, rel=1e-5)
    # at beta = 1 or delta = 0 nothing moves
    assert rewo_update(1.0, -0.7, 1.0, 3.0) == 1.0
    assert rewo_update(0.3, 0.0, 1.0, 3.0) == 0.3


def test_heaviside_convention():
    assert f_beta(0.5, 1e-9, 3.0) == -1.0
    assert f_beta(0.5, 0.0, 3.0) == pytest.approx(math.tanh(-1.5))


@pytest.mark.parametrize("beta0", [1e-4, 0.3, 3.0])
def test_rewo_settles_at_one_once_constraint_holds(beta0):
    beta = beta0
    for _ in range(5000):
        beta = rewo_update(beta, -0.05, 1.0, 3.0)
    assert beta == pytest.approx(1.0, abs=1e-6)
    for _ in range(100):  # and stays there
        beta = rewo_update(beta, -0.05, 1.0, 3.0)
    assert beta == pytest.approx(1.0, abs=1e-6)


def test_geco_does_not_settle_at_one():
    beta = 1e-4
    for _ in range(5000):
        beta = geco_update(beta, -0.05, 1.0)
    assert beta > 1e3


def test_rewo_initial_phase_holds_beta_and_prior_until_constraint_met():
    s = Rewo(kappa=2.0, data_dim=4, nu=1.0, tau=3.0, beta_init=1e-3, alpha=0.5)
    for c in [10.0, 8.0, 6.0]:
        s.update(c, 0.0)
        assert (s.beta, s.trains_prior, s.phase) == (1e-3, False, "initial")
    assert s.c_hat == pytest.approx(7.5)  # 10 -> 9 -> 7.5
    s.update(0.0, 0.0)  # C_hat = 3.75 < kappa^2 = 4: main phase, beta updated in this same step (Alg. 1)
    assert s.trains_prior and s.phase == "main"
    delta = (3.75 - 4.0) / 4
    assert s.c_hat == pytest.approx(3.75)
    assert s.beta == pytest.approx(rewo_update(1e-3, delta, 1.0, 3.0))
    s.update(100.0, 0.0)  # the constraint is violated again, but the initial phase never returns
    assert s.trains_prior and s.beta < rewo_update(1e-3, delta, 1.0, 3.0)


def test_running_average_and_geco_schedule():
    s = Geco(kappa=1.0, data_dim=2, nu=0.5, beta_init=1.0, alpha=0.9)
    s.update(3.0, 0.0)
    assert s.c_hat == 3.0  # C_hat_0 = C_batch
    assert s.beta == pytest.approx(math.exp(-0.5 * (3.0 - 1.0) / 2))
    s.update(1.0, 0.0)
    assert s.c_hat == pytest.approx(0.1 * 1.0 + 0.9 * 3.0)


def test_warmup_is_linear_in_epochs_then_one():
    s = LinearWarmup(epochs=20)
    for epoch, beta in [(0.0, 0.0), (5.0, 0.25), (19.5, 0.975), (20.0, 1.0), (250.0, 1.0)]:
        s.update(1.0, epoch)
        assert s.beta == pytest.approx(beta)


def test_schedules_settle_when_beta_reaches_its_final_regime():
    rewo = Rewo(kappa=2.0, data_dim=4, nu=1.0, tau=3.0, beta_init=1e-4, alpha=0.0)
    rewo.update(10.0, 0.0)
    assert not rewo.settled  # initial phase
    steps = 0
    while not rewo.settled:
        rewo.update(3.8, 0.0)  # constraint met (delta = -0.05 per dimension): beta climbs towards 1
        steps += 1
        assert steps < 10_000
    assert rewo.phase == "main" and 0.99 <= rewo.beta <= 1.0
    warmup = LinearWarmup(epochs=10)
    warmup.update(1.0, 9.9)
    assert not warmup.settled
    warmup.update(1.0, 10.0)
    assert warmup.settled
    assert Constant(beta_init=1.0).settled
    geco = Geco(kappa=2.0, data_dim=4, nu=1.0, beta_init=1.0, alpha=0.0)
    assert geco.settled
    geco.update(400.0, 0.0)  # far over the constraint: beta collapses
    assert geco.beta < 1e-40 and not geco.settled
    while not geco.settled:
        geco.update(3.8, 0.0)  # constraint met: beta climbs back
    assert 0.99 <= geco.beta < 1.1


def test_schedule_state_round_trip():
    a = Rewo(kappa=2.0, data_dim=4, nu=1.0, tau=3.0, beta_init=1e-3)
    for c in [9.0, 1.0, 0.5, 0.2]:
        a.update(c, 0.0)
    b = Rewo(kappa=2.0, data_dim=4, nu=1.0, tau=3.0, beta_init=1e-3)
    b.load_state_dict(a.state_dict())
    a.update(0.3, 0.0)
    b.update(0.3, 0.0)
    assert (a.beta, a.c_hat, a.phase) == (b.beta, b.c_hat, b.phase)
