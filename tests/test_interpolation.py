"""Graph-based interpolation (Sec. 2.3): the kNN graph, A* against Dijkstra, the path's endpoints,
arc-length resampling, the smoothness factor of Fig. 7, its normalised form and the reconstruction error it is
read against, and the pendulum's angle read-out."""
import math

import networkx as nx
import numpy as np
import pytest
import torch

from vhp_core.datasets import pendulum
from vhp_core.maths.interpolation import (
    interpolate,
    join_endpoints,
    knn_edges,
    knn_graph,
    normalised_smoothness,
    reconstruction_mse,
    resample,
    shortest_path,
    smoothness_factor,
)
from vhp_core.maths.model import VAE, ModelConfig
from vhp_core.maths.priors import PRIORS


@pytest.mark.parametrize("seed", range(8))
def test_astar_finds_the_dijkstra_shortest_path_length(seed):
    generator = torch.Generator().manual_seed(seed)
    dim = 2 + seed % 4
    nodes = torch.randn(300, dim, generator=generator, dtype=torch.float64) * torch.rand(dim, generator=generator)
    graph = knn_graph(nodes, k=4 + seed % 3)
    rng = np.random.default_rng(seed)
    for source, target in rng.integers(0, 300, size=(20, 2)):
        path = shortest_path(graph, nodes, int(source), int(target))
        length = sum(graph.edges[a, b]["weight"] for a, b in nx.utils.pairwise(path))
        assert path[0] == source and path[-1] == target
        assert length == pytest.approx(nx.dijkstra_path_length(graph, int(source), int(target)), rel=1e-12)


def test_knn_edges_join_each_node_to_its_k_nearest_with_euclidean_weights():
    nodes = torch.randn(50, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    pairs, lengths = knn_edges(nodes, k=5)
    assert (pairs[:, 0] < pairs[:, 1]).all() and len(np.unique(pairs, axis=0)) == len(pairs)
    np.testing.assert_allclose(lengths, (nodes[pairs[:, 0]] - nodes[pairs[:, 1]]).norm(dim=1).numpy(), rtol=1e-12)
    dist = torch.cdist(nodes, nodes).fill_diagonal_(math.inf)
    nearest = dist.topk(5, largest=False).indices
    edge_set = {tuple(p) for p in pairs.tolist()}
    for i in range(50):
        for j in nearest[i].tolist():
            assert (min(i, j), max(i, j)) in edge_set


def test_separate_clusters_are_joined_by_their_closest_pair():
    generator = torch.Generator().manual_seed(2)
    a = torch.randn(40, 2, generator=generator, dtype=torch.float64)
    b = torch.randn(40, 2, generator=generator, dtype=torch.float64) + torch.tensor([50.0, 0.0], dtype=torch.float64)
    nodes = torch.cat([a, b])
    graph = knn_graph(nodes, k=3)
    assert nx.is_connected(graph) and graph.graph["bridges"] == 1
    longest = max(w for _, _, w in graph.edges(data="weight"))
    assert longest == pytest.approx(float(torch.cdist(a, b).min()), rel=1e-12)


def test_endpoints_join_only_the_prior_nodes():
    nodes = torch.randn(30, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    graph = knn_graph(nodes, k=3)
    join_endpoints(graph, nodes, torch.zeros(2, 2, dtype=torch.float64), [30, 31], k=3)
    assert graph.degree[30] == 3 and graph.degree[31] == 3 and not graph.has_edge(30, 31)


def test_resample_spaces_frames_equally_along_the_path():
    points = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 3.0]], dtype=torch.float64)
    frames = resample(points, 9)
    steps = (frames[1:] - frames[:-1]).norm(dim=1)
    assert torch.equal(frames[0], points[0]) and torch.allclose(frames[-1], points[-1])
    assert torch.allclose(steps, torch.full_like(steps, 0.5))
    assert torch.allclose(frames[2], torch.tensor([1.0, 0.0], dtype=torch.float64))


def test_smoothness_factor_of_a_line_is_zero_and_of_a_quadratic_is_twice_its_coefficient():
    t = torch.arange(20, dtype=torch.float64)[:, None]
    line = 3.0 + t * torch.tensor([0.5, -2.0, 0.0], dtype=torch.float64)
    assert torch.allclose(smoothness_factor(line), torch.zeros(3, dtype=torch.float64), atol=1e-12)
    a = torch.tensor([0.25, -1.5], dtype=torch.float64)
    quadratic = a * t**2 + 7.0 * t - 1.0
    assert torch.allclose(smoothness_factor(quadratic), 2 * a.abs())
    batch = torch.stack([line[:, :2], quadratic])
    assert torch.allclose(smoothness_factor(batch), torch.stack([torch.zeros(2, dtype=torch.float64), 2 * a.abs()]))


def test_normalised_smoothness_of_a_line_is_zero_and_of_a_still_channel_undefined():
    t = torch.arange(20, dtype=torch.float64)[:, None]
    path = 3.0 + t * torch.tensor([0.5, -2.0, 0.0], dtype=torch.float64)
    normalised = normalised_smoothness(torch.stack([path, 2 * path]))
    assert torch.allclose(normalised[:, :2], torch.zeros(2, 2, dtype=torch.float64), atol=1e-12)
    assert normalised[:, 2].isnan().all()


@pytest.mark.parametrize("w", [0.3, 0.9, 2.0])
def test_normalised_smoothness_of_a_sinusoid_is_two_sin_half_its_frequency_whatever_its_amplitude(w):
    """Over 20 frames both mean squares of A sin(w t + phi)'s differences are exactly half their amplitude's
    square when the window's middle sits at phase pi/4, so R = 4 A sin^2(w/2) / (2 A sin(w/2)) holds exactly."""
    t = torch.arange(20, dtype=torch.float64)[:, None]
    phase = (math.pi / 2 - 19 * w) / 2
    amplitudes = torch.tensor([0.01, 1.0, 30.0], dtype=torch.float64)
    paths = 5.0 + amplitudes * torch.sin(w * t + phase)
    assert torch.allclose(normalised_smoothness(paths), torch.full((3,), 2 * math.sin(w / 2), dtype=torch.float64),
                          rtol=1e-12)
    assert torch.allclose(smoothness_factor(paths), amplitudes * 4 * math.sin(w / 2) ** 2 / math.sqrt(2), rtol=1e-12)


def test_blurring_towards_the_mean_shrinks_the_factor_and_keeps_the_normalised_smoothness():
    """What the normalised smoothness is for: m + c (x - m), c = 0.1, is 10x smoother by the paper's factor."""
    paths = torch.randn(6, 20, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64).cumsum(dim=1)
    blurred = paths.mean(dim=(0, 1)) + 0.1 * (paths - paths.mean(dim=(0, 1)))
    assert torch.allclose(smoothness_factor(blurred), 0.1 * smoothness_factor(paths), rtol=1e-10)
    assert torch.allclose(normalised_smoothness(blurred), normalised_smoothness(paths), rtol=1e-10)
    assert (normalised_smoothness(paths) > 0.5).all()


@pytest.mark.parametrize("jump", [1e-3, 1.0, 100.0])
def test_one_leap_on_a_still_path_scores_the_same_whatever_its_size(jump):
    frames = 20
    path = torch.zeros(frames, 1, dtype=torch.float64)
    path[9:] = jump
    assert normalised_smoothness(path).item() == pytest.approx(math.sqrt(2 * (frames - 1) / (frames - 2)), rel=1e-12)
    assert smoothness_factor(path).item() == pytest.approx(jump * math.sqrt(2 / (frames - 2)), rel=1e-12)


def _linear(layer: torch.nn.Linear, h: torch.Tensor) -> torch.Tensor:
    return h @ layer.weight.double().T + layer.bias.double()


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_reconstruction_error_is_the_decoded_posterior_means_squared_error(likelihood):
    """Against the tiny model's layers applied by hand in float64: tanh MLPs 3 -> 4 -> 2 (mu, log-variance)
    and 1 -> 4 -> 3, with a sigmoid on the Bernoulli decoder's output."""
    torch.manual_seed(5)
    model = VAE(ModelConfig(data_dim=3, latent_dim=1, hidden=[4], activation="tanh", likelihood=likelihood,
                            prior="standard_normal", prior_args={}))
    x = torch.rand(7, 3)
    (e1, _, e2), (d1, _, d2) = model.encoder.net, model.decoder.net
    mu = _linear(e2, torch.tanh(_linear(e1, x.double())))[:, :1]
    decoded = _linear(d2, torch.tanh(_linear(d1, mu)))
    decoded = torch.sigmoid(decoded) if likelihood == "bernoulli" else decoded
    error = reconstruction_mse(model, x)
    assert error.shape == (3,) and error.dtype == torch.float64
    assert torch.allclose(error, (decoded - x.double()).pow(2).mean(dim=0), rtol=1e-5)


def test_a_decoder_that_ignores_z_has_the_error_of_its_constant_output():
    torch.manual_seed(6)
    model = VAE(ModelConfig(data_dim=3, latent_dim=2, hidden=[8], activation="relu", likelihood="gaussian",
                            prior="standard_normal", prior_args={}))
    output = torch.tensor([0.5, -1.0, 2.0])
    with torch.no_grad():
        model.decoder.net[-1].weight.zero_()
        model.decoder.net[-1].bias.copy_(output)
    x = torch.randn(10, 3)
    assert torch.allclose(reconstruction_mse(model, x), (x - output).double().pow(2).mean(dim=0), rtol=1e-6)


@pytest.mark.parametrize("prior", sorted(PRIORS))
def test_a_path_starts_and_ends_at_the_encodings_and_decodes_them(prior):
    """For every registered prior, the paper's and any added one."""
    torch.manual_seed(0)
    args = {"vhp": {"zeta_dim": 2, "hidden": [16], "activation": "tanh"}, "vampprior": {"n_components": 10},
            "mog": {"n_components": 4}}
    model = VAE(ModelConfig(data_dim=12, latent_dim=2, hidden=[32], activation="tanh", likelihood="bernoulli",
                            prior=prior, prior_args=args.get(prior, {}))).eval()
    x_start, x_end = torch.rand(3, 12), torch.rand(3, 12)
    result = interpolate(model, x_start, x_end, n_nodes=200, k=5, frames=7, seed=1)
    mu_start, mu_end = model.encode_mean(x_start)[0].double(), model.encode_mean(x_end)[0].double()
    assert result.latents.shape == (3, 7, 2) and result.decoded.shape == (3, 7, 12)
    assert torch.allclose(result.latents[:, 0], mu_start) and torch.allclose(result.latents[:, -1], mu_end)
    with torch.no_grad():
        ends = model.decoder.mean(torch.cat([mu_start, mu_end]).float()).double()
    assert torch.allclose(result.decoded[:, 0], ends[:3], atol=1e-6)
    assert torch.allclose(result.decoded[:, -1], ends[3:], atol=1e-6)
    for p, path in enumerate(result.paths):
        assert path[0] == 200 + p and path[-1] == 203 + p
        assert all(node < 200 for node in path[1:-1])


def test_the_pendulum_angle_read_out_recovers_the_rendered_angle():
    angles = np.random.default_rng(0).uniform(0, 2 * np.pi, 500)
    images = torch.from_numpy(pendulum.render(angles, 16, 3.0, 1.6).reshape(500, -1))
    error = np.angle(np.exp(1j * (pendulum.read_angle(images).numpy() - angles)))
    assert np.abs(error).max() < 0.01
    ends = pendulum.endpoint_images({"image_size": 16, "rod_width": 3.0, "bob_radius": 1.6}, [0, 180])
    assert pendulum.read_angle(ends).tolist() == pytest.approx([0.0, math.pi], abs=1e-3)


def test_fig4_draws_each_decoded_frame_at_its_own_size_and_boxes_the_jump(tmp_path):
    """Fig. 4 of a pendulum variant rendered at 20 px (not the default 16): each frame is drawn as a 20 x 20
    image titled with its read-out angle; the one frame reached by a leap of 90 degrees on a path of 10-degree
    steps is boxed."""
    from vhp_core.report.plots_interpolation import pendulum_frames
    smooth = np.radians(np.arange(0, 100, 10))
    leap = np.radians([0, 10, 20, 30, 120, 130, 140, 150, 160, 170])
    for name, angles in (("smooth", smooth), ("leap", leap)):
        frames = pendulum.render(angles, 20, 3.0, 1.6).reshape(1, len(angles), 400)
        np.savez(tmp_path / f"{name}.npz", decoded=frames)
    fig = pendulum_frames({"smooth": tmp_path / "smooth.npz", "leap": tmp_path / "leap.npz"}, jump_factor=3.0)
    axes = np.array(fig.axes).reshape(2, 10)
    assert {ax.images[0].get_array().shape for ax in axes.flat} == {(20, 20)}
    assert [round(float(ax.get_title()[:-1]), -1) % 360 for ax in axes[1]] == [0, 10, 20, 30, 120, 130, 140, 150,
                                                                               160, 170]
    assert [len(ax.patches) for ax in axes[0]] == [0] * 10
    assert [len(ax.patches) for ax in axes[1]] == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
