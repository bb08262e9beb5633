"""Our simulated crossbar and aihwkit's, seen through the measurement interface."""

import pytest
import torch

from photonic_dat.config.factory import build_pnn, build_system
from photonic_dat.config.loading import load_config

IDEAL = [
    "errors.crossbar.gain_std=0",
    "errors.crossbar.offset_std=0",
    "errors.crossbar.stuck_on=0",
    "errors.crossbar.stuck_off=0",
    "errors.crossbar.wire_resistance=0",
    "errors.crossbar.dac_bits=null",
    "errors.crossbar.adc_bits=null",
    "errors.crossbar.read_noise=0",
    "errors.crossbar.adc_bound=1e6",
]


def _setup(*overrides):
    cfg = load_config(None, ["model=crossbar", "crossbar.hidden=[12, 8]", *overrides])
    pnn = build_pnn(cfg)
    return pnn, build_system(cfg, pnn)


def _inputs(pnn, n=20):
    return pnn.encoder(torch.rand(n, 8, 8, generator=torch.Generator().manual_seed(3)))


def test_ideal_crossbar_measures_the_twin():
    pnn, system = _setup(*IDEAL)
    x = _inputs(pnn)
    m = system.measure(pnn.optical_parameters(), x, taps=(0, 2))
    trace = pnn.run(x)
    torch.testing.assert_close(m.output, trace.output.detach(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(m.taps[0], trace.states[0].detach(), rtol=1e-4, atol=1e-5)
    assert system.capabilities.internal_taps == (0, 2) and system.capabilities.block_access


def test_device_errors_are_fixed_and_seeded_and_uploads_are_counted():
    pnn, system = _setup("errors.crossbar.read_noise=0")
    _, twin_device = _setup("errors.crossbar.read_noise=0")
    _, other_device = _setup("errors.crossbar.read_noise=0", "errors.seed=1")
    x, params = _inputs(pnn), pnn.optical_parameters()
    first = system.measure(params, x).output
    torch.testing.assert_close(system.measure(params, x).output, first)  # fixed errors
    torch.testing.assert_close(twin_device.measure(params, x).output, first)  # same seed
    assert not torch.allclose(other_device.measure(params, x).output, first)
    assert not torch.allclose(first, pnn.run(x).output.detach(), atol=1e-2)
    assert system.queries.parameter_uploads == 1
    new = {k: v.detach() * 1.1 for k, v in params.items()}
    system.measure(new, x)
    assert system.queries.parameter_uploads == 2


def test_block_access_drives_one_layer():
    pnn, system = _setup(*IDEAL)
    x = torch.rand(5, 12)
    out = system.measure_block(2, pnn.optical_parameters(), x)
    torch.testing.assert_close(out, pnn.blocks[2](x).detach(), rtol=1e-4, atol=1e-5)
    assert system.queries.frames == {"block:2": 5}


def test_aihwkit_crossbar_is_seeded_and_reprograms_on_upload():
    pytest.importorskip("aihwkit")
    pnn, system = _setup("system.kind=aihwkit")
    _, same = _setup("system.kind=aihwkit")
    x, params = _inputs(pnn), pnn.optical_parameters()
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = system.measure(params, x, taps=(0,))
    assert torch.equal(torch.rand(3), before)  # the caller's random state is left alone
    b = same.measure(params, x, taps=(0,))
    torch.testing.assert_close(a.output, b.output)
    ideal = pnn.run(x).output.detach()
    error = float((a.output - ideal).norm() / ideal.norm())
    assert 0.005 < error < 0.5  # PCM noise, drift and periphery, not a broken mapping
    again = system.measure(params, x).output  # same weights: new read noise only
    assert not torch.equal(again, a.output)
    system.measure({k: v.detach() * 0.9 for k, v in params.items()}, x)
    assert system.queries.parameter_uploads == 2


def test_aihwkit_refuses_other_families():
    from photonic_dat.exceptions import ConfigError

    cfg = load_config(None, ["system.kind=aihwkit"])
    with pytest.raises(ConfigError, match="model=crossbar"):
        build_system(cfg, build_pnn(cfg))


def test_a_resumed_crossbar_draws_the_same_read_noise():
    pnn, system = _setup()
    x, params = _inputs(pnn), pnn.optical_parameters()
    system.measure(params, x)
    tensors, meta = system.checkpoint_state()
    expected = system.measure(params, x).output
    _, resumed = _setup()
    resumed.restore_checkpoint_state(tensors, meta)
    torch.testing.assert_close(resumed.measure(params, x).output, expected)
    assert resumed.queries.samples == system.queries.samples
