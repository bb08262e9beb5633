"""DAT on real-valued states: fusion replaces the value, similarity is scale-aware."""

import pytest
import torch

from photonic_dat.config.factory import build_experiment
from photonic_dat.config.loading import load_config
from photonic_dat.methods.dat import relative_mse, similarity_loss, state_similarity
from photonic_dat.methods.fusion import fuse_state


def test_fusion_of_a_real_state_takes_the_measured_value_and_the_twin_gradient():
    twin = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    measured = torch.tensor([0.5, -1.0, 4.0])
    fused = fuse_state(twin, measured)
    torch.testing.assert_close(fused, measured)
    (fused * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    torch.testing.assert_close(twin.grad, torch.tensor([1.0, 2.0, 3.0]))


def test_fusion_of_a_field_keeps_the_phase():
    field = torch.tensor([1 + 1j, -2j])
    fused = fuse_state(field, torch.tensor([8.0, 9.0]))
    torch.testing.assert_close(fused.abs(), torch.tensor([8.0**0.5, 3.0]))
    torch.testing.assert_close(fused.angle(), field.angle())


def test_similarity_is_scale_aware_for_real_states_only():
    x = torch.rand(4, 5) + 0.1
    assert float(state_similarity(x, 2 * x)) == pytest.approx(float(relative_mse(x, 2 * x)))
    assert float(relative_mse(x, 2 * x)) > 0.1  # a gain error is an error of a real state
    field = torch.polar(x.sqrt(), torch.zeros_like(x))  # intensity x
    assert float(state_similarity(field, 2 * x)) == pytest.approx(0.0, abs=1e-7)
    assert float(similarity_loss(x, 2 * x)) == pytest.approx(0.0, abs=1e-7)


def _crossbar(*overrides):
    base = [
        "model=crossbar",
        "crossbar.hidden=[16]",
        "data.train_samples=300",
        "data.val_samples=60",
        "data.test_samples=100",
        "train.epochs=1",
        "train.batch_size=50",
        "train.progress=false",
        "dat.sepn_start_epoch=0",
    ]
    return build_experiment(load_config(None, [*base, *overrides]))


@pytest.mark.parametrize("mode", ["unitary", "separable"])
def test_dat_steps_on_a_crossbar_fit_its_sepns(mode):
    exp = _crossbar(f"dat.internal_states={mode}", "errors.crossbar.gain_std=0.3")
    method = exp.method
    x, y = method.encode(exp.splits.train.images[:100]), exp.splits.train.labels[:100]
    first = method.step(x, y)["similarity_loss"]
    for _ in range(15):
        last = method.step(x, y)["similarity_loss"]
    assert last < first
    frames = exp.system.queries.frames
    if mode == "unitary":
        assert frames["tap:0"] == frames["output"] == 1600
    else:
        assert frames["block:0"] == frames["block:2"] == 1600
