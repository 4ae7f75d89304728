"""The importance-sampled NLL (Burda et al. 2016, Sec. 5) against the exact log-likelihood of linear-Gaussian VAEs
built from the project's own classes, with one latent layer (factor analysis) and with the
two-level "vhp" prior; and the chunked logsumexp against the one-shot one."""
import math
import platform
import subprocess
import sys

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal, kl_divergence

from vhp_core.maths.model import VAE, ModelConfig
from vhp_core.maths.networks import LOGVAR_BOUND
from vhp_core.maths.nll import importance_sampled_nll, nll_summary

DATA_DIM, LATENT_DIM = 4, 2


def raw(logvar: torch.Tensor) -> torch.Tensor:
    """The network output that ConditionalGaussian squashes into `logvar`."""
    return LOGVAR_BOUND * torch.atanh(logvar / LOGVAR_BOUND)


def linear_gaussian_vae(two_level: bool, exact_posterior: bool) -> tuple[VAE, MultivariateNormal]:
    """x|z ~ N(W z + b, diag psi) with z ~ N(0, I), or (two levels) z|zeta ~ N(A zeta + a, diag s) and
    zeta ~ N(0, 1): p(x) = N(b + W mu_z, W Sigma_z W^T + diag psi), known exactly. W is chosen so that
    p(z|x) is diagonal (W^T diag(psi)^-1 W cancels the off-diagonal of Sigma_z^-1), hence an encoder can
    be exact; otherwise q(z|x) and q(zeta|z) are the exact posteriors shifted and widened."""
    args = {"zeta_dim": 1, "hidden": [], "activation": "tanh"} if two_level else {}
    model = VAE(ModelConfig(data_dim=DATA_DIM, latent_dim=LATENT_DIM, hidden=[], activation="tanh",
                            likelihood="gaussian", prior="vhp" if two_level else "standard_normal",
                            prior_args=args))
    shift, widen = (0.0, 1.0) if exact_posterior else (0.4, 2.0)
    a_mat, a, s = torch.tensor([[1.5], [-0.8]]), torch.tensor([0.3, -0.2]), torch.tensor([0.25, 0.5])
    mu_z, sigma_z = (a, a_mat @ a_mat.T + torch.diag(s)) if two_level else (torch.zeros(2), torch.eye(2))
    psi, b = torch.tensor([0.3, 0.5, 0.2, 0.4]), torch.tensor([0.5, -1.0, 0.2, 0.0])
    prior_precision = torch.linalg.inv(sigma_z)
    gram = 3.0 * torch.eye(2) - (prior_precision - torch.diag(prior_precision.diag()))  # W^T psi^-1 W
    evals, evecs = torch.linalg.eigh(gram)
    u, _ = torch.linalg.qr(torch.tensor([[1.0, 0.2], [0.3, -1.0], [-0.5, 0.4], [0.1, 0.6]]))  # (D, d_z)
    w = psi.sqrt()[:, None] * u @ evecs @ torch.diag(evals.sqrt()) @ evecs.T  # (D, d_z)
    post_var = 1.0 / (prior_precision + gram).diag()  # (d_z,)
    gain = post_var[:, None] * w.T / psi  # posterior mean = gain x + offset
    offset = post_var * (prior_precision @ mu_z - w.T @ (b / psi))
    with torch.no_grad():
        enc, dec = model.encoder.net[0], model.decoder.net[0]
        dec.weight.copy_(w), dec.bias.copy_(b), model.decoder.logvar.copy_(psi.log())
        enc.weight.zero_(), enc.weight[:2].copy_(gain)
        enc.bias[:2], enc.bias[2:] = offset + shift, raw(torch.log(widen * post_var))
        if two_level:
            p, q = model.prior.p_z.net[0], model.prior.q_zeta.net[0]
            zeta_precision = 1.0 + (a_mat[:, 0] ** 2 / s).sum()
            zeta_gain = (a_mat[:, 0] / s) / zeta_precision  # p(zeta|z) mean = zeta_gain . (z - a)
            p.weight.zero_(), p.weight[:2].copy_(a_mat)
            p.bias[:2], p.bias[2:] = a, raw(torch.log(s))
            q.weight.zero_(), q.weight[0].copy_(zeta_gain)
            q.bias[0] = -(zeta_gain * a).sum() + shift
            q.bias[1] = raw(torch.log(widen / zeta_precision))
    return model, MultivariateNormal(b + w @ mu_z, w @ sigma_z @ w.T + torch.diag(psi))


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: a second thread only adds synchronisation, which costs seconds on busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def data(exact: MultivariateNormal, n: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    """n draws from the model's own marginal and their exact log-likelihoods: (n, D), (n,)."""
    torch.manual_seed(0)
    x = exact.sample((n,))
    return x, exact.log_prob(x)


def mc_stderr(model: VAE, x: torch.Tensor, samples: int) -> torch.Tensor:
    """Monte-Carlo standard error of log (1/S) sum_s exp(w_s) per item, by the delta method: (N,)."""
    with torch.no_grad():
        w = model.log_importance_weights(x, samples)  # (S, N)
    r = torch.exp(w - w.max(dim=0).values)  # (S, N)
    return r.std(dim=0) / (r.mean(dim=0) * math.sqrt(samples))


@pytest.mark.parametrize("two_level", [False, True], ids=["one_level", "two_level"])
def test_exact_posterior_gives_the_exact_log_likelihood_for_any_s(two_level):
    model, exact = linear_gaussian_vae(two_level, exact_posterior=True)
    x, log_px = data(exact)
    for samples, chunk, batch_size in [(1, 100, 200), (3, 1, 7), (250, 64, 50)]:
        nll = importance_sampled_nll(model, x, samples, chunk, batch_size)
        assert torch.allclose(-nll.float(), log_px, atol=1e-4), (samples, chunk, batch_size)


@pytest.mark.parametrize("two_level", [False, True], ids=["one_level", "two_level"])
def test_inexact_posterior_matches_the_exact_log_likelihood_within_mc_error(two_level):
    model, exact = linear_gaussian_vae(two_level, exact_posterior=False)
    x, log_px = data(exact)
    samples = 2000
    torch.manual_seed(1)
    err = -importance_sampled_nll(model, x, samples, chunk=300) - log_px  # (N,) estimate - exact
    stderr = mc_stderr(model, x, samples)  # (N,)
    summary = nll_summary(err)
    assert abs(summary["mean"]) < 4 * summary["stderr"], summary
    # one-sided, per item: 5 standard errors keeps 200 items' chance of a false alarm below 1e-4
    assert (err < 5 * stderr).all(), f"estimate above log p(x) by {(err / stderr).max():.1f} MC standard errors"


class TableModel(torch.nn.Module):
    """Stands in for a VAE: item i's weights are column i of a fixed (S, N) table, handed out in order,
    so every chunking and batching sees the same weights. Items are passed as their index in x[:, 0]."""

    def __init__(self, weights: torch.Tensor):
        super().__init__()
        self.weights = weights
        self.used = torch.zeros(weights.shape[1], dtype=torch.long)  # (N,) samples handed out per item

    def log_importance_weights(self, x: torch.Tensor, s: int) -> torch.Tensor:
        items = x[:, 0].long()  # (B,)
        start = int(self.used[items[0]])
        self.used[items] += s
        return self.weights[start:start + s, items]  # (s, B)


def test_chunked_logsumexp_equals_the_one_shot_one_for_any_chunking():
    torch.manual_seed(0)
    samples, n = 1000, 9
    weights = -5000.0 + 40.0 * torch.randn(samples, n, dtype=torch.float64)  # exp() underflows: needs the max shift
    weights[123, 4] = -4000.0  # one dominant sample
    expected = -(torch.logsumexp(weights, dim=0) - math.log(samples))  # (N,)
    items = torch.arange(n, dtype=torch.float64)[:, None]  # (N, 1)
    for chunk in [1, 7, 64, 999, 1000, 5000]:
        for batch_size in [1, 4, 9]:
            nll = importance_sampled_nll(TableModel(weights), items, samples, chunk, batch_size)
            torch.testing.assert_close(nll, expected, rtol=0, atol=1e-9)


def test_chunking_changes_the_draws_not_the_distribution():
    model, exact = linear_gaussian_vae(two_level=True, exact_posterior=False)
    x, _ = data(exact)
    runs = {}
    for chunk in [1000, 64, 300]:
        torch.manual_seed(1)
        runs[chunk] = importance_sampled_nll(model, x, 1000, chunk)
    torch.manual_seed(1)
    assert torch.equal(importance_sampled_nll(model, x, 1000, 64), runs[64]), "same seed and chunk: same value"
    for chunk in [64, 300]:
        diff = nll_summary(runs[chunk] - runs[1000])
        assert abs(diff["mean"]) < 4 * diff["stderr"], (chunk, diff)


def test_one_sample_estimate_is_the_negative_elbo():
    """With S = 1, -NLL is one draw of the ELBO's integrand; its mean is the closed-form ELBO
    E_q[log N(x; W z + b, diag psi)] - KL(q(z|x) || N(0, I)) of the one-level linear-Gaussian VAE."""
    model, exact = linear_gaussian_vae(two_level=False, exact_posterior=False)
    x, _ = data(exact)
    with torch.no_grad():
        mu, logvar = model.encoder(x)  # (N, d_z) each
        w, b, log_psi = model.decoder.net[0].weight, model.decoder.net[0].bias, model.decoder.logvar
        sq_err = (x - mu @ w.T - b) ** 2 + torch.exp(logvar) @ (w**2).T  # (N, D): E_q (x - W z - b)^2
        rec = -0.5 * (math.log(2 * math.pi) + log_psi + sq_err * torch.exp(-log_psi)).sum(-1)  # (N,)
        kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1)  # (N,)
    repeats = 50
    torch.manual_seed(2)
    nll = importance_sampled_nll(model, x.repeat(repeats, 1), samples=1)  # (R N,)
    diff = nll_summary(nll - (kl - rec).repeat(repeats))
    assert abs(diff["mean"]) < 4 * diff["stderr"], diff


@pytest.mark.parametrize("two_level", [False, True], ids=["one_level", "two_level"])
def test_estimate_rises_to_the_exact_log_likelihood_as_s_grows(two_level):
    model, exact = linear_gaussian_vae(two_level, exact_posterior=False)
    x, log_px = data(exact)
    torch.manual_seed(3)
    gaps = [(importance_sampled_nll(model, x, s) + log_px).mean().item() for s in [1, 10, 100, 1000]]
    assert gaps[0] > 0.5, f"the inexact encoder should leave a clear gap at S = 1, got {gaps}"
    assert gaps[0] > gaps[1] > gaps[2] > -0.02 and abs(gaps[3]) < 0.02, gaps


def test_summary_gives_mean_and_standard_error():
    summary = nll_summary(torch.tensor([80.0, 82.0, 84.0, 86.0]))
    assert summary == pytest.approx({"mean": 83.0, "stderr": math.sqrt(20 / 3) / 2, "n": 4})


def test_model_is_left_in_the_mode_it_came_in():
    model, exact = linear_gaussian_vae(two_level=True, exact_posterior=False)
    x, _ = data(exact, n=5)
    model.train()
    importance_sampled_nll(model, x, samples=4)
    assert model.training


def test_vampprior_pseudo_inputs_are_encoded_once_per_evaluation_not_once_per_chunk():
    torch.manual_seed(0)
    model = VAE(ModelConfig(data_dim=6, latent_dim=2, hidden=[8], activation="tanh", likelihood="bernoulli",
                            prior="vampprior", prior_args={"n_components": 7}))
    rows = []  # the batch size of every encoder call
    model.encoder.register_forward_hook(lambda module, args, out: rows.append(len(args[0])))
    importance_sampled_nll(model, torch.rand(9, 6).round(), samples=20, chunk=5, batch_size=4)
    assert sorted(rows) == sorted([7] + [4, 4, 1] * 4), rows  # the 7 pseudo-inputs, then 3 batches x 4 chunks


TUNED_PROCESS = """
import resource, torch
from vhp_core.maths.model import VAE, ModelConfig
from vhp_core.devices import tune_cpu_process
from vhp_core.maths.nll import importance_sampled_nll
assert tune_cpu_process(), "glibc refused the settings"
torch.set_num_threads(2)
tiny = torch.full((1 << 20,), 1e-30) * 1e-10  # 1e-40, a denormal; 4 MiB: computed by both threads
flushed = tiny.eq(0).float().mean().item()
torch.set_num_threads(1)
torch.manual_seed(0)
model = VAE(ModelConfig(784, 40, [300, 300], "tanh", "bernoulli", "vhp",
                        {"zeta_dim": 40, "hidden": [300, 300], "activation": "tanh"}))
x = torch.rand(20, 784).round()
importance_sampled_nll(model, x, samples=300)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
importance_sampled_nll(model, x, samples=1000)  # 10 model calls
print(flushed, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


@pytest.mark.slow
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tune_cpu_process sets glibc's malloc")
def test_a_tuned_process_flushes_denormals_on_every_thread_and_reuses_the_nlls_memory():
    """In a fresh interpreter (the settings are per process, the flush per thread): every intra-op
    thread flushes, and NLL model calls on the MNIST-sized model fault no pages back in, but for a rare
    new high-water mark (1,532 pages for one 2,000 x 784 buffer over 10 calls). Without tune_cpu_process
    most runs fault about 4,200 pages (16 MiB) per call; some heap layouts happen to avoid it."""
    out = subprocess.run([sys.executable, "-c", TUNED_PROCESS], check=True, capture_output=True, text=True).stdout
    flushed, faults = map(float, out.split())
    assert flushed == 1.0, f"only {flushed:.0%} of a parallel product of denormals flushed to 0"
    assert faults < 500, f"{faults} page faults per model call"
