"""Evaluation, NLL and interpolation run on the model's device, and a trained run is evaluated on the
device its config names. These machines have no GPU. A model on another device is stood in for by
torch's FakeTensorMode, which computes shapes and devices, not values, and raises when one op meets
tensors of two devices; its device is "meta" (a fake "cuda" tensor cannot be copied into on a
CPU-only build of torch). A run whose spec asks for CUDA must stop here, naming the config key."""
import pytest
import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode

from vhp_core.devices import DeviceError, module_device
from vhp_core.maths.model import VAE, ModelConfig
from vhp_core.maths.nll import importance_sampled_nll
from vhp_core.maths.priors import PRIORS
from vhp_core.runs.config import resolve_run
from vhp_core.runs.evaluate import encode_means, evaluate_nll, evaluate_run, load_run
from vhp_core.runs.interpolation_runs import interpolation_run, smoothness_run
from vhp_core.runs.train import build_model

ELSEWHERE = torch.device("meta")  # not the CPU, where the data stay
PRIOR_ARGS = {"vhp": {"zeta_dim": 2, "hidden": [8], "activation": "tanh"}, "vampprior": {"n_components": 5},
              "mog": {"n_components": 3}}


def model_elsewhere(prior: str) -> tuple[VAE, FakeTensorMode]:
    """A small Bernoulli VAE with `prior`, its tensors fake ones on another device than the CPU's, and
    the mode to run it in."""
    with torch.device("meta"):  # no values to compute
        model = VAE(ModelConfig(data_dim=12, latent_dim=2, hidden=[8], activation="tanh", likelihood="bernoulli",
                                prior=prior, prior_args=PRIOR_ARGS.get(prior, {}))).eval()
    mode = FakeTensorMode(allow_non_fake_inputs=True)
    with mode:
        model.to_empty(device=ELSEWHERE)
    return model, mode


@pytest.mark.filterwarnings("ignore:Accessing the data pointer of FakeTensor")  # VampPrior's cache key
@pytest.mark.parametrize("prior", sorted(PRIORS))
def test_the_nll_and_the_encodings_run_on_the_models_device_with_the_data_left_on_the_cpu(prior):
    model, mode = model_elsewhere(prior)
    x = torch.rand(7, 12)
    with mode:
        assert importance_sampled_nll(model, x, samples=10, chunk=4, batch_size=3).device == ELSEWHERE
        assert encode_means(model, x, batch_size=3).device == ELSEWHERE


def test_the_fake_device_catches_data_left_behind():
    """The check above can fail: the model elsewhere refuses data on the CPU."""
    model, mode = model_elsewhere("standard_normal")
    with mode, pytest.raises(RuntimeError, match="same device"):
        model.encode_mean(torch.rand(7, 12))


def test_module_device_names_a_model_spread_over_two_devices():
    model = nn.Linear(3, 2)
    assert module_device(model) == torch.device("cpu") == module_device(nn.Tanh())
    model.register_buffer("stray", torch.zeros(1, device="meta"))
    with pytest.raises(DeviceError, match="spread over"):
        module_device(model)


def write_run(folder, config: dict, device: str) -> str:
    """An untrained pendulum run's model.pt (the file training publishes), whose spec names `device`."""
    spec = resolve_run(config, "pendulum", "vhp_wu20", 1) | {"device": device}
    data_dim = spec["dataset_args"]["image_size"] ** 2
    path = folder / "model.pt"
    torch.save({"model": build_model(spec, data_dim).state_dict(), "spec": spec, "data_dim": data_dim,
                "summary": {}}, path)
    return str(path)


def evaluations(config: dict) -> dict:
    """Every entry point that loads a trained run, as f(model_path)."""
    interpolation = config["datasets"]["pendulum"]["interpolation"]
    return {"evaluate": evaluate_run, "nll": lambda path: evaluate_nll(path, samples=4, n_items=5),
            "interpolate": lambda path: interpolation_run(path, interpolation),
            "smoothness": lambda path: smoothness_run(path, interpolation, graphs=1, interpolations=2)}


@pytest.fixture
def unflushed():
    """evaluate_nll tunes the process (tune_cpu_process): leave denormals as torch's default for the tests after."""
    yield
    torch.set_flush_denormal(False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("entry", ["evaluate", "nll", "interpolate", "smoothness"])
def test_a_run_is_evaluated_on_the_device_its_config_names(tmp_path, config, entry, unflushed):
    """A spec asking for CUDA stops with the key on this machine, whatever 'auto' would pick; the CPU runs."""
    evaluate = evaluations(config)[entry]
    with pytest.raises(DeviceError, match="config key device"):
        evaluate(write_run(tmp_path, config, "cuda"))
    evaluate(write_run(tmp_path, config, "cpu"))


def test_load_run_places_the_model_on_the_configured_device(tmp_path, config):
    model, saved = load_run(write_run(tmp_path, config, "meta"))
    assert module_device(model) == torch.device("meta") and saved["spec"]["device"] == "meta"
