"""Beta updates against hand-worked values of Eq. 5 and Eq. 11-12, and the schedules' phases, for one run
and for several runs of different schedules at once."""
import math

import pytest
import torch

from vhp_core.maths.schedules import Schedules, f_beta, geco_update, rewo_update

REWO = {"name": "rewo", "nu": 1.0, "tau": 3.0, "beta_init": 1e-3}


def one(args: dict, kappa2: float | None = None, data_dim: int = 4) -> Schedules:
    return Schedules([args], [kappa2], data_dim)


def update(s: Schedules, c: float, epoch: float = 0.0) -> None:
    s.update(torch.tensor([c], dtype=torch.float64), epoch)


def test_geco_update_hand_worked():
    assert geco_update(0.5, 0.2, 1.0).item() == pytest.approx(0.5 * math.exp(-0.2), rel=1e-12)  # 0.409365
    assert geco_update(0.5, -0.2, 2.0).item() == pytest.approx(0.5 * math.exp(0.4), rel=1e-12)  # grows past any cap


def test_rewo_violated_constraint_is_geco():
    for beta, delta, nu in [(0.5, 0.2, 1.0), (1.0, 0.01, 3.0), (1e-3, 2.0, 0.5)]:
        assert rewo_update(beta, delta, nu, 3.0).item() == pytest.approx(geco_update(beta, delta, nu).item(), rel=1e-12)


def test_rewo_satisfied_constraint_hand_worked():
    # beta < 1: f = tanh(3 * -0.5) = -0.905148; exponent = -0.905148 * -0.2 = +0.181030
    assert rewo_update(0.5, -0.2, 1.0, 3.0).item() == pytest.approx(0.5 * math.exp(0.2 * math.tanh(1.5)), rel=1e-12)
    assert rewo_update(0.5, -0.2, 1.0, 3.0).item() == pytest.approx(0.599224, rel=1e-5)
    # beta > 1: f = tanh(3) = 0.995055; exponent = 0.995055 * -0.5 = -0.497527
    assert rewo_update(2.0, -0.5, 1.0, 3.0).item() == pytest.approx(1.216064, rel=1e-5)
    # at beta = 1 or delta = 0 nothing moves
    assert rewo_update(1.0, -0.7, 1.0, 3.0).item() == 1.0
    assert rewo_update(0.3, 0.0, 1.0, 3.0).item() == pytest.approx(0.3, rel=1e-15)


def test_heaviside_convention():
    assert f_beta(torch.tensor(0.5), torch.tensor(1e-9), 3.0).item() == -1.0
    assert f_beta(torch.tensor(0.5), torch.tensor(0.0), 3.0).item() == pytest.approx(math.tanh(-1.5))


@pytest.mark.parametrize("beta0", [1e-4, 0.3, 3.0])
def test_rewo_settles_at_one_once_constraint_holds(beta0):
    beta = torch.tensor(beta0, dtype=torch.float64)
    for _ in range(5000):
        beta = rewo_update(beta, -0.05, 1.0, 3.0)
    assert beta.item() == pytest.approx(1.0, abs=1e-6)
    for _ in range(100):  # and stays there
        beta = rewo_update(beta, -0.05, 1.0, 3.0)
    assert beta.item() == pytest.approx(1.0, abs=1e-6)


def test_geco_does_not_settle_at_one():
    beta = torch.tensor(1e-4, dtype=torch.float64)
    for _ in range(5000):
        beta = geco_update(beta, -0.05, 1.0)
    assert beta.item() > 1e3


def scalar_trajectory(kind: str, cs: list[float], kappa2: float, d: int, nu: float, tau: float, alpha: float,
                      beta: float) -> list[float]:
    """Eq. 5 and Eq. 11-12 in plain Python floats: the reference the tensor schedules must follow."""
    c_hat, initial, out = None, kind == "rewo", []
    for c in cs:
        c_hat = c if c_hat is None else (1 - alpha) * c + alpha * c_hat
        delta = (c_hat - kappa2) / d
        if kind == "geco":
            beta = beta * math.exp(-nu * delta)
        else:
            initial = initial and not c_hat < kappa2
            if not initial:
                f = -1.0 if delta > 0 else math.tanh(tau * (beta - 1.0))
                beta = beta * math.exp(nu * f * delta)
        out.append(beta)
    return out


def test_trajectories_of_several_runs_at_once_follow_the_equations():
    """Three runs of different schedules in one Schedules follow the float reference to 1e-9 (relative)
    over 3,000 steps: REWO's C falls through kappa^2 and rises again; GECO's swings about kappa^2 (so that
    its beta stays where the reference's product form keeps full float64 precision)."""
    rewo = [60.0 * math.exp(-i / 500) + 2.0 * math.sin(i / 7) + (0.0 if i < 2000 else 30.0) for i in range(3000)]
    geco = [16.0 + 6.0 * math.sin(i / 40) for i in range(3000)]
    s = Schedules([{"name": "rewo", "nu": 1.0, "tau": 3.0, "beta_init": 1e-4, "alpha": 0.99},
                   {"name": "geco", "nu": 0.5, "beta_init": 1.0, "alpha": 0.9},
                   {"name": "constant", "beta_init": 1.0}], [16.0, 16.0, None], 8)
    got = []
    for c_rewo, c_geco in zip(rewo, geco, strict=True):
        s.update(torch.tensor([c_rewo, c_geco, c_rewo], dtype=torch.float64), 0.0)
        got.append(s.beta.tolist())
    got = list(zip(*got, strict=True))
    assert got[0] == pytest.approx(scalar_trajectory("rewo", rewo, 16.0, 8, 1.0, 3.0, 0.99, 1e-4), rel=1e-9)
    assert got[1] == pytest.approx(scalar_trajectory("geco", geco, 16.0, 8, 0.5, 3.0, 0.9, 1.0), rel=1e-9)
    assert min(got[1]) < 1e-10  # GECO's beta moved far
    assert set(got[2]) == {1.0}


def test_geco_beta_far_below_float64_recovers():
    """log beta: a beta of exp(-2000) (0 in float64) climbs back once the constraint holds; in the
    product form it would stay at exactly 0."""
    s = one({"name": "geco", "nu": 1.0, "beta_init": 1.0, "alpha": 0.0}, kappa2=4.0, data_dim=1)
    update(s, 2004.0)  # delta = 2000
    assert s.log_beta.item() == pytest.approx(-2000.0) and s.beta.item() == 0.0
    for _ in range(2001):
        update(s, 3.0)  # delta = -1: log beta rises by 1 a step
    assert s.beta.item() == pytest.approx(math.e, rel=1e-9)


def test_rewo_initial_phase_holds_beta_and_prior_until_constraint_met():
    s = one({**REWO, "alpha": 0.5}, kappa2=4.0)
    for c in [10.0, 8.0, 6.0]:
        update(s, c)
        assert (s.beta.item(), s.trains_prior.item()) == (pytest.approx(1e-3), False)
    assert s.c_hat.item() == pytest.approx(7.5)  # 10 -> 9 -> 7.5
    update(s, 0.0)  # C_hat = 3.75 < kappa^2 = 4: main phase, beta updated in this same step (Alg. 1)
    assert s.trains_prior.item()
    delta = (3.75 - 4.0) / 4
    assert s.c_hat.item() == pytest.approx(3.75)
    assert s.beta.item() == pytest.approx(rewo_update(1e-3, delta, 1.0, 3.0).item(), rel=1e-12)
    update(s, 100.0)  # the constraint is violated again, but the initial phase never returns
    assert s.trains_prior.item() and s.beta.item() < rewo_update(1e-3, delta, 1.0, 3.0).item()


def test_running_average_and_geco_schedule():
    s = one({"name": "geco", "nu": 0.5, "beta_init": 1.0, "alpha": 0.9}, kappa2=1.0, data_dim=2)
    update(s, 3.0)
    assert s.c_hat.item() == 3.0  # C_hat_0 = C_batch
    assert s.beta.item() == pytest.approx(math.exp(-0.5 * (3.0 - 1.0) / 2), rel=1e-12)
    update(s, 1.0)
    assert s.c_hat.item() == pytest.approx(0.1 * 1.0 + 0.9 * 3.0)


def test_warmup_is_linear_in_epochs_then_one():
    s = one({"name": "warmup", "epochs": 20})
    assert s.beta.item() == 0.0
    for epoch, beta in [(0.0, 0.0), (5.0, 0.25), (19.5, 0.975), (20.0, 1.0), (250.0, 1.0)]:
        update(s, 1.0, epoch)
        assert s.beta.item() == pytest.approx(beta, rel=1e-12)


def test_schedules_settle_when_beta_reaches_its_final_regime():
    rewo = one({**REWO, "beta_init": 1e-4, "alpha": 0.0}, kappa2=4.0)
    update(rewo, 10.0)
    assert not rewo.settled.item()  # initial phase
    steps = 0
    while not rewo.settled.item():
        update(rewo, 3.8)  # constraint met (delta = -0.05 per dimension): beta climbs towards 1
        steps += 1
        assert steps < 10_000
    assert rewo.trains_prior.item() and 0.99 <= rewo.beta.item() <= 1.0
    warmup = one({"name": "warmup", "epochs": 10})
    update(warmup, 1.0, 9.9)
    assert not warmup.settled.item()
    update(warmup, 1.0, 10.0)
    assert warmup.settled.item()
    assert one({"name": "constant", "beta_init": 1.0}).settled.item()
    geco = one({"name": "geco", "nu": 1.0, "beta_init": 1.0, "alpha": 0.0}, kappa2=4.0)
    assert geco.settled.item()
    update(geco, 400.0)  # far over the constraint: beta collapses
    assert geco.beta.item() < 1e-40 and not geco.settled.item()
    while not geco.settled.item():
        update(geco, 3.8)  # constraint met: beta climbs back
    assert 0.99 <= geco.beta.item() < 1.1


def test_schedule_state_round_trip():
    a = one(REWO, kappa2=4.0)
    for c in [9.0, 1.0, 0.5, 0.2]:
        update(a, c)
    b = one(REWO, kappa2=4.0)
    b.load_state_dict(0, a.state_dict(0))
    update(a, 0.3)
    update(b, 0.3)
    assert (a.beta.item(), a.c_hat.item(), a.trains_prior.item()) == (b.beta.item(), b.c_hat.item(),
                                                                        b.trains_prior.item())


def test_bad_schedule_entries_are_named():
    with pytest.raises(ValueError, match="needs the dataset's `kappa2`"):
        one(REWO, kappa2=None)
    with pytest.raises(ValueError, match=r"alpha = 1.0 must lie in \[0, 1\)"):
        one({"name": "constant", "beta_init": 1.0, "alpha": 1.0})
    with pytest.raises(ValueError, match="takes no"):
        one({"name": "constant", "beta_init": 1.0, "nu": 2.0})
