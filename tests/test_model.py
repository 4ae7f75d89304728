"""The loss E[C] + beta F against an independent computation, and the IW prior bound of Eq. 8
against the exact log-density of a linear-Gaussian hierarchical prior."""
import math

import pytest
import torch
from torch.distributions import Bernoulli, MultivariateNormal, Normal

from vhp_core.maths.model import VAE, ModelConfig
from vhp_core.maths.networks import LOGVAR_BOUND, GatedLinear, mlp
from vhp_core.maths.objectives import OBJECTIVES, iwae_bound, weighted_elbo
from vhp_core.maths.priors import PRIORS, HierarchicalPrior


def small_vae(prior: str = "vhp", likelihood: str = "bernoulli", activation: str = "tanh") -> VAE:
    torch.manual_seed(0)
    args = {"zeta_dim": 3, "hidden": [16], "activation": activation} if prior == "vhp" else {}
    return VAE(ModelConfig(data_dim=12, latent_dim=2, hidden=[32, 16], activation=activation,
                           likelihood=likelihood, prior=prior, prior_args=args))


def independent_neg_elbo(model: VAE, x: torch.Tensor, k: int) -> torch.Tensor:
    """-ELBO with the K-sample IW prior bound, from torch.distributions and the same random draws
    as the model makes (z first, then zeta)."""
    mu, logvar = model.encoder(x)
    q_z = Normal(mu, torch.exp(0.5 * logvar))
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    log_px = Bernoulli(logits=model.decoder.net(z)).log_prob(x).sum(-1)
    prior = model.prior
    mu_zeta, logvar_zeta = prior.q_zeta(z)
    zeta = mu_zeta + torch.exp(0.5 * logvar_zeta) * torch.randn(k, *mu_zeta.shape)
    mu_pz, logvar_pz = prior.p_z(zeta)
    log_w = (Normal(mu_pz, torch.exp(0.5 * logvar_pz)).log_prob(z).sum(-1)
             + Normal(0.0, 1.0).log_prob(zeta).sum(-1)
             - Normal(mu_zeta, torch.exp(0.5 * logvar_zeta)).log_prob(zeta).sum(-1))
    log_pz = torch.logsumexp(log_w, 0) - math.log(k)
    return -(log_px + log_pz - q_z.log_prob(z).sum(-1)).mean()


def test_loss_at_beta_one_is_negative_elbo():
    model = small_vae()
    x = torch.bernoulli(torch.full((64, 12), 0.3))
    torch.manual_seed(7)
    rec, kl = weighted_elbo.terms(model, x, k=5)
    torch.manual_seed(7)
    expected = independent_neg_elbo(model, x, k=5)
    assert weighted_elbo.loss(rec, kl, 1.0).item() == pytest.approx(expected.item(), rel=1e-5)
    assert weighted_elbo.loss(rec, kl, 0.25).item() == pytest.approx((rec.mean() + 0.25 * kl.mean()).item(), rel=1e-6)
    assert weighted_elbo.loss(rec, kl, 0.25).item() != pytest.approx(expected.item(), rel=1e-3)


def test_iwae_objective_with_one_sample_is_the_elbo():
    model = small_vae()
    x = torch.bernoulli(torch.full((64, 12), 0.3))
    torch.manual_seed(3)
    iw = iwae_bound.loss(*iwae_bound.terms(model, x, k=1), 0.5)  # beta is ignored by the IWAE objective
    torch.manual_seed(3)
    elbo = weighted_elbo.loss(*weighted_elbo.terms(model, x, k=1), 1.0)
    assert iw.item() == pytest.approx(elbo.item(), rel=1e-5)


def raw(logvar: torch.Tensor) -> torch.Tensor:
    """The network output that ConditionalGaussian squashes into `logvar`."""
    return LOGVAR_BOUND * torch.atanh(logvar / LOGVAR_BOUND)


def linear_gaussian_prior(exact_posterior: bool) -> tuple[HierarchicalPrior, MultivariateNormal]:
    """p(zeta) = N(0, 1), p(z|zeta) = N(A zeta + b, diag s2): p(z) = N(b, A A^T + diag s2), known.
    q(zeta|z) is the exact posterior or a deliberately shifted and widened one."""
    prior = HierarchicalPrior(latent_dim=2, zeta_dim=1, hidden=[], activation="tanh")
    a, b, s2 = torch.tensor([[1.5], [-0.8]]), torch.tensor([0.3, -0.2]), torch.tensor([0.25, 0.5])
    precision = 1.0 + (a[:, 0] ** 2 / s2).sum()
    gain = (a[:, 0] / s2) / precision  # posterior mean = gain . (z - b)
    shift, widen = (0.0, 1.0) if exact_posterior else (0.7, 3.0)
    with torch.no_grad():
        p, q = prior.p_z.net[0], prior.q_zeta.net[0]
        p.weight.zero_(), q.weight.zero_()
        p.weight[:2] = a
        p.bias[:2], p.bias[2:] = b, raw(torch.log(s2))
        q.weight[0] = gain
        q.bias[0] = -(gain * b).sum() + shift
        q.bias[1] = raw(torch.log(widen / precision))
    exact = MultivariateNormal(b, a @ a.T + torch.diag(s2))
    return prior, exact


def test_iw_bound_is_exact_with_the_true_posterior():
    prior, exact = linear_gaussian_prior(exact_posterior=True)
    z = exact.sample((100,)) * 1.5
    with torch.no_grad():
        assert torch.allclose(prior.log_prob_iw(z, 1), exact.log_prob(z), atol=1e-4)


def test_iw_bound_tightens_with_k_to_the_exact_log_density():
    torch.manual_seed(1)
    prior, exact = linear_gaussian_prior(exact_posterior=False)
    z = exact.sample((40,))
    target = exact.log_prob(z).mean().item()
    bounds = {}
    with torch.no_grad():
        for k in [1, 10, 100, 5000]:
            reps = max(8, 40000 // k)
            bounds[k] = prior.log_prob_iw(z.expand(reps, -1, -1), k).mean().item()
    gaps = [target - bounds[k] for k in [1, 10, 100, 5000]]
    assert gaps[0] > 0.1, f"the bad proposal should leave a clear gap at K = 1, got {gaps}"
    assert gaps[0] > gaps[1] > gaps[2] > -0.01, gaps
    assert abs(gaps[3]) < 0.01, gaps


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_every_prior_keeps_the_shape_contract(name):
    model = small_vae(prior=name)
    z = torch.randn(5, 7, 2)
    assert model.prior.log_prob_iw(z, 3).shape == (5, 7)
    assert model.prior.sample(11).shape == (11, 2)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_objectives_give_finite_gradients(likelihood, objective):
    model = small_vae(likelihood=likelihood)
    x = torch.rand(16, 12)
    OBJECTIVES[objective].loss(*OBJECTIVES[objective].terms(model, x, 4), 0.5).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_component_log_densities_match_broadcasting():
    from vhp_core.maths.distributions import log_normal_diag, log_normal_diag_components

    torch.manual_seed(4)
    z, mu = 3 * torch.randn(7, 5, 40), 3 * torch.randn(300, 40)
    logvar = torch.empty(300, 40).uniform_(-9, 2)  # std from 0.011 to 2.7
    expected = log_normal_diag(z.double().unsqueeze(-2), mu.double(), logvar.double())  # (7, 5, 300)
    got = log_normal_diag_components(z, mu, logvar)
    assert got.shape == (7, 5, 300) and got.dtype == torch.float32
    assert torch.allclose(got.double(), expected, rtol=1e-6, atol=1e-3)


def test_the_standardised_hierarchical_prior_is_a_change_of_variables():
    torch.manual_seed(0)
    prior = HierarchicalPrior(latent_dim=2, zeta_dim=2, hidden=[8], activation="tanh")
    z = 20.0 * torch.randn(5, 2)
    torch.manual_seed(1)
    reference = prior.log_prob_iw(z / 4.0 - 1.0, 8)
    torch.manual_seed(2)
    sample_u = prior.sample(3)
    with torch.no_grad():
        prior.loc.fill_(4.0)
        prior.log_scale.fill_(math.log(4.0))
    torch.manual_seed(1)
    assert torch.allclose(prior.log_prob_iw(z, 8), reference - 2 * math.log(4.0))
    torch.manual_seed(2)
    assert torch.allclose(prior.sample(3), 4.0 + 4.0 * sample_u)


def test_the_hierarchical_prior_starts_from_the_aggregate_posterior():
    """The location and scale its data-dependent initialisation gives, and the flag the trainer sets once
    applied (saved with the model, so a resumed run does not initialise twice)."""
    prior = HierarchicalPrior(latent_dim=2, zeta_dim=2, hidden=[8], activation="tanh")
    assert "initialised" in prior.state_dict() and not prior.initialised
    mu = torch.tensor([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]])  # variance per dimension 8/3 and 800/3
    std = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 30.0]])  # mean square 1 and 300
    start = prior.data_init(mu, std)
    assert set(start) == {"loc", "log_scale"}
    assert torch.allclose(start["loc"], torch.tensor([3.0, 30.0]))
    assert torch.allclose(start["log_scale"].exp() ** 2, torch.tensor([8 / 3 + 1, 800 / 3 + 300]))
    assert PRIORS["standard_normal"](2).data_init(mu, std) == {}


def test_gated_layers_compute_a_linear_map_times_a_sigmoid_gate():
    torch.manual_seed(0)
    net = mlp([5, 7, 3], "gated")
    gated, out = net
    assert isinstance(gated, GatedLinear) and isinstance(out, torch.nn.Linear) and len(net) == 2
    x = torch.randn(4, 5)
    w, b = gated.linear.weight, gated.linear.bias  # rows 0-6: W, b; rows 7-13: V, c
    h = (x @ w[:7].T + b[:7]) * torch.sigmoid(x @ w[7:].T + b[7:])
    assert torch.allclose(net(x), h @ out.weight.T + out.bias, atol=1e-6)


@pytest.mark.parametrize("prior", sorted(PRIORS))
def test_a_gated_model_trains_with_every_prior(prior):
    model = small_vae(prior=prior, activation="gated")
    assert isinstance(model.encoder.net[0], GatedLinear) and isinstance(model.decoder.net[1], GatedLinear)
    weighted_elbo.loss(*weighted_elbo.terms(model, torch.bernoulli(torch.full((16, 12), 0.3)), k=2), 1.0).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.encoder.parameters())


def test_an_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match="gated"):
        mlp([3, 4, 2], "swish")


def test_the_unstandardised_hierarchical_prior_is_the_paper_s_and_learns_no_loc_or_scale():
    torch.manual_seed(0)
    standardised = HierarchicalPrior(latent_dim=2, zeta_dim=2, hidden=[8], activation="tanh")
    plain = HierarchicalPrior(latent_dim=2, zeta_dim=2, hidden=[8], activation="tanh", standardise=False)
    plain.load_state_dict({k: v for k, v in standardised.state_dict().items() if k != "initialised"})
    assert "initialised" not in plain.state_dict() and plain.data_init(torch.ones(3, 2), torch.ones(3, 2)) == {}
    assert {"loc", "log_scale"}.isdisjoint(dict(plain.named_parameters()))
    z = 3.0 * torch.randn(6, 2)
    torch.manual_seed(1)
    expected = standardised.log_prob_iw(z, 8)  # loc 0, scale 1: the identity
    torch.manual_seed(1)
    assert torch.equal(plain.log_prob_iw(z, 8), expected)
