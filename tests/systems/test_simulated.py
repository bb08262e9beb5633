import pytest
import torch

from photonic_dat.config.factory import build_experiment
from photonic_dat.optics.detectors import intensity
from photonic_dat.systems.base import CapabilityError
from tests.helpers import batch, small_config


def test_measurement_equals_perturbed_physics_and_differs_from_twin():
    exp = build_experiment(small_config())
    x = batch(exp, 32)[0]
    params = exp.method.display_params()
    m = exp.system.measure(params, x, taps=exp.method.twin.internal_taps)
    twin = exp.method.twin.run(x)
    assert m.output.shape == (32, 16)
    assert set(m.taps) == {0}
    rel = (m.output - intensity(twin.output)).norm() / m.output.norm()
    assert rel > 0.05  # hidden errors matter
    # with no errors the system equals the twin
    clean = build_experiment(small_config("errors.bs_std=0", "errors.ps_std=0"))
    m0 = clean.system.measure(clean.method.display_params(), x)
    assert torch.allclose(m0.output, intensity(clean.method.twin.run(x).output), atol=1e-5)


def test_queries_are_counted():
    exp = build_experiment(small_config())
    x = batch(exp, 10)[0]
    params = exp.method.display_params()
    exp.system.measure(params, x)
    exp.system.measure(params, x)
    exp.system.measure_block(0, params, x)
    q = exp.system.queries
    assert (q.samples, q.block_samples, q.total, q.parameter_uploads) == (20, 10, 30, 1)


def test_every_measured_plane_costs_a_frame():
    exp = build_experiment(small_config())
    x = batch(exp, 8)[0]
    params = exp.method.display_params()
    taps = exp.method.twin.internal_taps
    exp.system.measure(params, x, taps=taps)
    exp.system.measure(params, x)
    exp.system.measure_block(0, params, x)
    q = exp.system.queries
    expected = {"output": 16, "block:0": 8, **{f"tap:{k}": 8 for k in taps}}
    assert q.frames == expected
    assert q.total_frames == 16 + 8 + 8 * len(taps) > q.total


def test_capabilities_are_enforced():
    exp = build_experiment(
        small_config("method=insilico", "system.internal_taps=false", "system.block_access=false")
    )
    x = batch(exp, 4)[0]
    params = exp.method.display_params()
    with pytest.raises(CapabilityError, match="internal states"):
        exp.system.measure(params, x, taps=(0,))
    with pytest.raises(CapabilityError, match="block-level access"):
        exp.system.measure_block(0, params, x)


def test_separable_dat_refuses_system_without_block_access():
    cfg = small_config("method=dat", "dat.internal_states=separable", "system.block_access=false")
    with pytest.raises(CapabilityError, match="separable"):
        build_experiment(cfg)


def test_detector_noise_is_seeded():
    cfg = small_config("system.detector.model=camera")
    a, b = build_experiment(cfg), build_experiment(cfg)
    x = batch(a, 8)[0]
    ma = a.system.measure(a.method.display_params(), x).output
    mb = b.system.measure(b.method.display_params(), x).output
    assert torch.equal(ma, mb)
    again = a.system.measure(a.method.display_params(), x).output
    assert not torch.equal(ma, again)  # fresh noise per frame
