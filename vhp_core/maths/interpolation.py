"""Graph-based interpolation along the learned latent manifold (Sec. 2.3 of the paper; docs/method.md §5).

Nodes are samples of the model's own prior; each is joined to its k nearest neighbours by an
undirected edge weighted by the Euclidean distance; the encoded endpoints are added as two more nodes
joined the same way; A* with the Euclidean heuristic (admissible, since weights are distances) finds
the shortest path, which is resampled at equal arc length and decoded. A kNN graph can fall apart
into components (a prior with separated modes); they are then joined by the shortest edge between
each pair of components on a minimum spanning tree, and those bridges are counted and reported.
Fig. 7's measures sit at the end: the paper's smoothness factor, the same factor normalised by the
path's own motion, and the reconstruction error that the two are read against.
"""
from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch

from vhp_core.devices import module_device
from vhp_core.maths.model import VAE


def knn_edges(nodes: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Undirected k-nearest-neighbour edges of (N, d) points: (E, 2) index pairs i < j and their lengths."""
    n = len(nodes)
    if not 1 <= k < n:
        raise ValueError(f"k = {k} neighbours needs 1 <= k < N = {n} nodes")
    dist = torch.cdist(nodes.double(), nodes.double())  # (N, N)
    dist.fill_diagonal_(float("inf"))
    lengths, idx = dist.topk(k, dim=1, largest=False)  # (N, k) each
    rows = torch.arange(n).repeat_interleave(k)
    pairs = torch.stack([rows, idx.reshape(-1)], dim=1).sort(dim=1).values  # i < j
    pairs, first = np.unique(pairs.numpy(), axis=0, return_index=True)
    return pairs, lengths.reshape(-1).numpy()[first]


def knn_graph(nodes: torch.Tensor, k: int) -> nx.Graph:
    """The kNN graph of (N, d) points, connected by bridges if it falls apart (module docstring)."""
    pairs, lengths = knn_edges(nodes, k)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(nodes)))
    graph.add_weighted_edges_from((int(i), int(j), float(w)) for (i, j), w in zip(pairs, lengths, strict=True))
    graph.graph["bridges"] = connect_components(graph, nodes)
    return graph


def connect_components(graph: nx.Graph, nodes: torch.Tensor) -> int:
    """Join the graph's components along a minimum spanning tree of their closest pairs; edges added."""
    components = [np.fromiter(c, dtype=int) for c in nx.connected_components(graph)]
    if len(components) == 1:
        return 0
    points = nodes.double()
    between = nx.Graph()
    for a in range(len(components)):
        for b in range(a + 1, len(components)):
            dist = torch.cdist(points[components[a]], points[components[b]])
            flat = int(dist.argmin())
            i, j = divmod(flat, dist.shape[1])
            between.add_edge(a, b, weight=float(dist.min()), pair=(int(components[a][i]), int(components[b][j])))
    bridges = list(nx.minimum_spanning_edges(between, data=True))
    for _, _, data in bridges:
        graph.add_edge(*data["pair"], weight=data["weight"])
    return len(bridges)


def shortest_path(graph: nx.Graph, positions: torch.Tensor, source: int, target: int) -> list[int]:
    """A* from source to target with the Euclidean distance between positions as heuristic."""
    points = positions.double()
    return nx.astar_path(graph, source, target, heuristic=lambda a, b: float(torch.dist(points[a], points[b])),
                         weight="weight")


def join_endpoints(graph: nx.Graph, nodes: torch.Tensor, points: torch.Tensor, ids: list[int], k: int) -> None:
    """Add (P, d) points as graph nodes `ids`, each joined to its k nearest of the (N, d) prior nodes."""
    dist = torch.cdist(points.double(), nodes.double())  # (P, N)
    lengths, idx = dist.topk(k, dim=1, largest=False)
    for p, node in enumerate(ids):
        graph.add_weighted_edges_from((node, int(j), float(w)) for j, w in zip(idx[p], lengths[p], strict=True))


def resample(points: torch.Tensor, n: int) -> torch.Tensor:
    """n points at equal arc length along the polyline through (P, d) points, both ends included."""
    if n < 2:
        raise ValueError(f"an interpolation needs at least 2 frames, got {n}")
    seg = (points[1:] - points[:-1]).norm(dim=1)  # (P - 1,)
    arc = torch.cat([seg.new_zeros(1), seg.cumsum(0)])  # (P,)
    if arc[-1] == 0:
        return points[:1].expand(n, -1).clone()
    at = torch.linspace(0, float(arc[-1]), n, dtype=arc.dtype)
    i = torch.searchsorted(arc, at, right=True).clamp(1, len(points) - 1)  # segment end index per frame
    t = ((at - arc[i - 1]) / seg[i - 1].clamp_min(torch.finfo(seg.dtype).tiny)).clamp(0, 1)[:, None]
    return points[i - 1] + t * (points[i] - points[i - 1])


@dataclass
class Interpolations:
    """One graph and its interpolations: the arrays a figure or the smoothness measure needs."""

    nodes: torch.Tensor  # (N + 2P, d): prior samples, then the P start and P end encodings
    edges: np.ndarray  # (E, 2): the kNN graph of the prior samples (with bridges), endpoints' edges left out
    weights: np.ndarray  # (E,)
    paths: list[list[int]]  # node ids along each path, from its start node to its end node
    latents: torch.Tensor  # (P, frames, d): each path resampled at equal arc length
    decoded: torch.Tensor  # (P, frames, D): decoder means along each path
    bridges: int  # edges added to join components of the kNN graph

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat numpy arrays for an npz file; paths as ids padded with -1."""
        width = max(map(len, self.paths))
        paths = np.full((len(self.paths), width), -1)
        for p, path in enumerate(self.paths):
            paths[p, :len(path)] = path
        return {"nodes": self.nodes.numpy(), "edges": self.edges, "weights": self.weights, "paths": paths,
                "latents": self.latents.numpy(), "decoded": self.decoded.numpy(), "bridges": np.array(self.bridges)}


@torch.no_grad()
def interpolate(model: VAE, x_start: torch.Tensor, x_end: torch.Tensor, n_nodes: int, k: int, frames: int,
                seed: int) -> Interpolations:
    """Interpolate between each row of (P, D) x_start and x_end on one graph of n_nodes prior samples;
    each pair's two encodings join the graph only while its own path is searched."""
    model.eval()
    torch.manual_seed(seed)
    nodes = model.prior.sample(n_nodes).cpu().double()
    graph = knn_graph(nodes, k)
    n_pairs = len(x_start)
    device = module_device(model)
    ends = torch.cat([model.encode_mean(x.to(device))[0] for x in (x_start, x_end)]).cpu().double()  # (2P, d)
    positions = torch.cat([nodes, ends])
    paths = []
    for p in range(n_pairs):
        ids = [n_nodes + p, n_nodes + n_pairs + p]
        join_endpoints(graph, nodes, ends[[p, n_pairs + p]], ids, k)
        paths.append(shortest_path(graph, positions, *ids))
        graph.remove_nodes_from(ids)
    latents = torch.stack([resample(positions[path], frames) for path in paths])  # (P, frames, d)
    param = next(model.parameters())
    decoded = model.decoder.mean(latents.to(param)).cpu().double()
    edges = np.array(graph.edges(), dtype=int)
    weights = np.array([w for _, _, w in graph.edges(data="weight")])
    return Interpolations(positions, edges, weights, paths, latents, decoded, graph.graph["bridges"])


def smoothness_factor(frames: torch.Tensor) -> torch.Tensor:
    """RMS over the path of the second-order finite difference, per dimension (Sec. 4.2, Fig. 7):
    (..., T, D) -> (..., D); 0 for a straight line at constant speed, 2|a| for x_t = a t^2."""
    if frames.shape[-2] < 3:
        raise ValueError(f"the smoothness factor needs at least 3 frames, got {frames.shape[-2]}")
    second = frames[..., 2:, :] - 2 * frames[..., 1:-1, :] + frames[..., :-2, :]
    return second.pow(2).mean(dim=-2).sqrt()


def normalised_smoothness(frames: torch.Tensor) -> torch.Tensor:
    """The smoothness factor over the RMS first difference, per dimension: (..., T, D) -> (..., D), NaN where
    the path does not move. It is scale-free, so a decoder blurred towards the mean, m + c (x - m), keeps its
    value while the factor shrinks by c, and a near-constant decoder is judged by the shape of what it moves:
    R = sqrt(mean_t (x_{t+1} - 2 x_t + x_{t-1})^2) / sqrt(mean_t (x_{t+1} - x_t)^2) <= 2 sqrt((T-1) / (T-2));
    0 at constant speed, 2 sin(w/2) for A sin(w t + phi) whatever A, sqrt(2 (T-1) / (T-2)) for a path that
    stands still but for one leap mid-path, however small."""
    first = frames.diff(dim=-2).pow(2).mean(dim=-2).sqrt()
    return torch.where(first > 0, smoothness_factor(frames) / first, torch.nan)


def mean_squared_error(predicted: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per dimension, the mean over items of the squared error: (N, D) against (N, D) or (D,) -> (D,), float64."""
    return (predicted.double() - x.double()).pow(2).mean(dim=0)


@torch.no_grad()
def reconstruction_mse(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """Per dimension, the mean squared error of decoding each item's posterior mean to the decoder's mean,
    (N, D) -> (D,): the same deterministic map that decodes a path's endpoints in `interpolate`."""
    model.eval()
    mu = model.encode_mean(x.to(module_device(model)))[0]
    return mean_squared_error(model.decoder.mean(mu).cpu(), x)


def discontinuities(steps: torch.Tensor, factor: float) -> torch.Tensor:
    """Which frame-to-frame steps (..., T - 1) exceed `factor` times the median step of their path: the
    jumps marked in Figs. 4 and 6 (a path at constant speed has none; one that stalls and leaps does)."""
    return steps > factor * steps.median(dim=-1, keepdim=True).values
