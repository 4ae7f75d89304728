"""VampPrior and the mixture-of-Gaussians prior against torch.distributions: exact log density,
sample moments, normalisation on a grid, gradients, and the VampPrior's shared encoder."""
import copy

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal
from vhp_core.baselines.vampprior import VampPrior

from vhp_core.maths.mixture_prior import MixtureOfGaussians
from vhp_core.maths.model import VAE, ModelConfig
from vhp_core.maths.networks import ConditionalGaussian
from vhp_core.maths.objectives import weighted_elbo

DATA_DIM = 6


def reference_mixture(log_pi: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> MixtureSameFamily:
    return MixtureSameFamily(Categorical(logits=log_pi), Independent(Normal(mu, torch.exp(0.5 * logvar)), 1))


def mixture_moments(log_pi: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Mean (d,) and covariance (d, d) of sum_c pi_c N(mu_c, diag exp(logvar_c))."""
    pi = log_pi.softmax(-1)
    mean = pi @ mu
    second = torch.einsum("c,ci,cj->ij", pi, mu, mu) + torch.diag(pi @ logvar.exp())
    return mean, second - torch.outer(mean, mean)


def assert_moments_match(samples: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> None:
    assert torch.allclose(samples.mean(0), mean, atol=0.03), (samples.mean(0), mean)
    assert torch.allclose(samples.T.cov(), cov, atol=0.05, rtol=0.03), (samples.T.cov(), cov)


def vampprior(**kwargs) -> VampPrior:
    """A 2-D VampPrior on a tiny encoder with well-separated component means and log-variances far
    from 0 (about -1.5 and +1), so that a std of exp(logvar) instead of exp(0.5 logvar), or components
    picked unevenly, would show in the moments and the normalisation."""
    torch.manual_seed(0)
    encoder = ConditionalGaussian(DATA_DIM, 2, [8], "tanh")
    with torch.no_grad():
        encoder.net[0].weight.mul_(4.0)
        encoder.net[-1].weight[:2].mul_(6.0)
        encoder.net[-1].weight[2:].zero_()
        encoder.net[-1].bias[2:] = torch.tensor([-1.5, 1.0])
    return VampPrior(2, encoder, **{"n_components": 7, "init_mean": 0.5, "init_std": 0.3, **kwargs})


def vampprior_components(prior: VampPrior) -> tuple[torch.Tensor, ...]:
    """log weights, means and log-variances of the mixture, computed here from the encoder directly."""
    mu, logvar = prior.encoder(prior.raw_inputs.clamp(0.0, 1.0))
    return torch.zeros(len(mu)), mu, logvar


def mog(latent_dim: int = 2) -> MixtureOfGaussians:
    """A MoG moved away from its symmetric init: unequal weights and variances."""
    torch.manual_seed(0)
    prior = MixtureOfGaussians(latent_dim, n_components=5)
    with torch.no_grad():
        prior.logits.normal_()
        prior.raw_logvars.uniform_(-1.5, 1.0)
    return prior


def grid_integral(prior, lo: float, hi: float, n: int, dim: int) -> float:
    """Riemann sum of exp(log p(z)) over [lo, hi]^dim."""
    axis = torch.linspace(lo, hi, n, dtype=torch.float64)
    z = torch.stack(torch.meshgrid(*[axis] * dim, indexing="ij"), dim=-1).float()  # (n, ..., n, dim)
    with torch.no_grad():
        density = prior.log_prob_iw(z, 1).double().exp()
    return (density.sum() * ((hi - lo) / (n - 1)) ** dim).item()


def small_vampprior_vae(n_components: int = 10) -> VAE:
    torch.manual_seed(0)
    return VAE(ModelConfig(data_dim=12, latent_dim=2, hidden=[16], activation="tanh", likelihood="bernoulli",
                           prior="vampprior", prior_args={"n_components": n_components}))


# VampPrior


def test_vampprior_log_prob_is_the_mixture_of_encoder_posteriors():
    prior = vampprior()
    z = 2.0 * torch.randn(4, 5, 2)
    with torch.no_grad():
        expected = reference_mixture(*vampprior_components(prior)).log_prob(z)
        assert torch.allclose(prior.log_prob_iw(z, 1), expected, atol=1e-5)
        assert torch.equal(prior.log_prob_iw(z, 1), prior.log_prob_iw(z, 50))  # exact: k is ignored


def test_vampprior_samples_have_the_mixture_moments():
    prior = vampprior()
    torch.manual_seed(1)
    with torch.no_grad():
        samples = prior.sample(200_000)
        assert_moments_match(samples, *mixture_moments(*vampprior_components(prior)))


def test_vampprior_integrates_to_one():
    assert grid_integral(vampprior(), -12.0, 12.0, 481, dim=2) == pytest.approx(1.0, abs=1e-3)


def test_vampprior_init_options():
    prior = VampPrior(2, ConditionalGaussian(DATA_DIM, 2, [8], "tanh"), n_components=500,
                      init_mean=0.3, init_std=0.02)
    assert prior.raw_inputs.shape == (500, DATA_DIM)
    assert prior.raw_inputs.mean().item() == pytest.approx(0.3, abs=2e-3)
    assert prior.raw_inputs.std().item() == pytest.approx(0.02, rel=0.05)
    with torch.no_grad():
        prior.raw_inputs[0] = torch.linspace(-1.0, 2.0, DATA_DIM)
    u = prior.pseudo_inputs()
    assert u.min().item() == 0.0 and u.max().item() == 1.0  # default bounds [0, 1], as hardtanh in the reference


def test_vampprior_without_bounds_uses_raw_inputs():
    prior = vampprior(init_mean=-3.0, init_std=1.0, bounds=None)
    assert torch.equal(prior.pseudo_inputs(), prior.raw_inputs)
    assert prior.pseudo_inputs().min().item() < -3.0
    prior.log_prob_iw(torch.randn(9, 2), 1).sum().backward()
    assert (prior.raw_inputs.grad != 0).all()  # no clamp, so no dead coordinates


def test_vampprior_with_custom_bounds_clamps_to_them():
    prior = vampprior(init_mean=0.0, init_std=1.0, bounds=[-0.5, 0.5])
    u = prior.pseudo_inputs()
    assert u.min().item() == -0.5 and u.max().item() == 0.5
    assert torch.equal(u, prior.raw_inputs.clamp(-0.5, 0.5))


@pytest.mark.parametrize("kwargs, word", [
    ({"n_components": 0}, "n_components"),
    ({"init_std": -0.1}, "init_std"),
    ({"init_mean": -0.05}, "bounds"),  # vae_vampprior's argparse default: every coordinate dead under hardtanh
    ({"bounds": [1.0, 0.0]}, "bounds"),
])
def test_vampprior_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        VampPrior(2, ConditionalGaussian(DATA_DIM, 2, [8], "tanh"), **kwargs)


def test_vampprior_rejects_an_encoder_of_another_latent_size():
    with pytest.raises(ValueError, match="latent_dim"):
        VampPrior(3, ConditionalGaussian(DATA_DIM, 2, [8], "tanh"))


def test_vampprior_shares_the_encoder_without_duplicating_it():
    model = small_vampprior_vae()
    assert model.prior.encoder is model.encoder
    own = [model.prior.raw_inputs]
    assert [id(p) for p in model.prior_parameters()] == [id(p) for p in own]  # REWO freezes these only
    expected = [*model.encoder.parameters(), *model.decoder.parameters(), *own]
    assert sorted(map(id, model.parameters())) == sorted(map(id, expected))
    adam = torch.optim.Adam(model.parameters())
    assert sum(p.numel() for g in adam.param_groups for p in g["params"]) == sum(p.numel() for p in expected)
    assert [key for key in model.state_dict() if key.startswith("prior.")] == ["prior.raw_inputs"]


def test_vampprior_survives_state_dict_and_deepcopy():
    model, other = small_vampprior_vae(), small_vampprior_vae()
    torch.manual_seed(5)
    other.load_state_dict(model.state_dict())
    twin = copy.deepcopy(model)
    assert twin.prior.encoder is twin.encoder and twin.encoder is not model.encoder
    z = torch.randn(8, 2)
    with torch.no_grad():
        for m in (other, twin):
            assert torch.equal(m.prior.log_prob_iw(z, 1), model.prior.log_prob_iw(z, 1))


def test_vampprior_pseudo_inputs_learn_from_the_kl_term():
    model = small_vampprior_vae()
    x = torch.bernoulli(torch.full((32, 12), 0.3))
    weighted_elbo.terms(model, x, k=1)[1].mean().backward()
    grad = model.prior.raw_inputs.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_vampprior_model_takes_an_adam_step():
    model = small_vampprior_vae()
    x = torch.bernoulli(torch.full((32, 12), 0.3))
    before = model.prior.raw_inputs.detach().clone()
    adam = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss = weighted_elbo.loss(*weighted_elbo.terms(model, x, k=1), 1.0)
    loss.backward()
    adam.step()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not torch.equal(model.prior.raw_inputs, before)


def test_vampprior_reuses_its_components_without_gradients_until_a_weight_changes():
    model = small_vampprior_vae()
    calls = []
    model.encoder.register_forward_hook(lambda *_: calls.append(1))
    z = torch.randn(8, 2)

    def fresh() -> torch.Tensor:  # with gradients on, the cache is never used
        return model.prior.log_prob_iw(z, 1).detach()

    with torch.no_grad():
        first = model.prior.log_prob_iw(z, 1)
        assert torch.equal(model.prior.log_prob_iw(z, 1), first)
    assert len(calls) == 1
    assert torch.equal(first, fresh())
    adam = torch.optim.Adam(model.encoder.parameters(), lr=0.1)  # an encoder weight changes, not u_c
    model.encoder.net[0].weight.sum().backward()
    adam.step()
    with torch.no_grad():
        after_step = model.prior.log_prob_iw(z, 1)
    assert not torch.equal(after_step, first) and torch.equal(after_step, fresh())
    model.load_state_dict(small_vampprior_vae(n_components=10).state_dict())
    with torch.no_grad():
        assert torch.equal(model.prior.log_prob_iw(z, 1), first)


# Mixture of Gaussians


def test_mog_log_prob_is_the_mixture_density():
    prior = mog()
    z = 2.0 * torch.randn(4, 5, 2)
    with torch.no_grad():
        expected = reference_mixture(*prior.components()).log_prob(z)
        assert torch.allclose(prior.log_prob_iw(z, 3), expected, atol=1e-5)


def test_mog_samples_have_the_mixture_moments():
    prior = mog()
    torch.manual_seed(1)
    with torch.no_grad():
        assert_moments_match(prior.sample(200_000), *mixture_moments(*prior.components()))


def test_mog_integrates_to_one():
    assert grid_integral(mog(latent_dim=1), -15.0, 15.0, 6001, dim=1) == pytest.approx(1.0, abs=1e-4)


def test_mog_init_is_spread_means_unit_variances_equal_weights():
    prior = MixtureOfGaussians(3)
    log_pi, mu, logvar = prior.components()
    assert mu.shape == (16, 3) and mu.std().item() > 0.5
    assert torch.equal(logvar, torch.zeros(16, 3))
    assert torch.allclose(log_pi, torch.full((16,), -torch.log(torch.tensor(16.0)).item()))


def test_mog_gradients_reach_means_logvars_and_weights():
    prior = mog()
    (-prior.log_prob_iw(torch.randn(64, 2), 1).mean()).backward()
    for p in (prior.means, prior.raw_logvars, prior.logits):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_mog_parameters_are_all_prior_parameters():
    torch.manual_seed(0)
    model = VAE(ModelConfig(data_dim=12, latent_dim=2, hidden=[16], activation="tanh", likelihood="bernoulli",
                            prior="mog", prior_args={}))
    assert sorted(map(id, model.prior_parameters())) == sorted(
        map(id, [model.prior.means, model.prior.raw_logvars, model.prior.logits]))
    with pytest.raises(ValueError, match="n_components"):
        MixtureOfGaussians(2, n_components=0)
