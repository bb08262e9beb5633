import pytest
import torch
from typer.testing import CliRunner

from photonic_dat.cli.main import app
from photonic_dat.config.factory import build_training, resolve_device
from photonic_dat.exceptions import ConfigError
from tests.helpers import small_config


def test_auto_is_the_cpu_without_a_gpu_and_everything_lives_there():
    assert resolve_device("auto") == torch.device("cpu")  # the tests hide any GPU
    system, method = build_training(small_config("method=dat", "train.device=cpu"))
    assert method.device == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in method.sepns.parameters())
    fields = method.encode(torch.rand(3, 8, 8))
    assert fields.device.type == "cpu"
    assert system.measure(method.display_params(), fields).output.device.type == "cpu"


def test_a_missing_gpu_or_a_bad_device_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="train.device=cuda:1: torch sees no CUDA GPU"):
        build_training(small_config("train.device=cuda:1"))
    with pytest.raises(ConfigError, match="train.device"):
        small_config("train.device=gpu")
    result = CliRunner().invoke(app, ["train", "--device", "cuda", "--set", "train.epochs=1"])
    assert result.exit_code == 2 and "no CUDA GPU" in result.output


def test_a_system_that_cannot_move_keeps_the_run_on_the_cpu(monkeypatch):
    import photonic_dat.config.factory as factory

    monkeypatch.setattr(factory, "resolve_device", lambda name: torch.device("cuda"))
    monkeypatch.setattr(factory.SimulatedSystem, "movable", False)  # as a lab adapter
    _, method = build_training(small_config("method=pat"))  # auto: falls back to the CPU
    assert method.device == torch.device("cpu")
    with pytest.raises(ConfigError, match="computes on the CPU"):
        build_training(small_config("method=pat", "train.device=cuda"))
