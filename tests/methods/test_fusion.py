import torch

from photonic_dat.config.factory import build_experiment
from photonic_dat.methods.fusion import fuse_amplitude, measured_forward
from photonic_dat.optics.detectors import intensity
from tests.helpers import batch, small_config


def test_pat_forward_is_measurement_and_gradient_is_twin_vjp():
    exp = build_experiment(small_config("method=pat"))
    twin, system = exp.method.twin, exp.system
    x, y = batch(exp, 16)[0], batch(exp, 16)[1]
    measured = system.measure(exp.method.display_params(), x).output
    params = list(twin.blocks.parameters())

    twin_scores = twin.readout(intensity(twin.run(x).output))
    value = measured_forward(twin_scores, twin.readout(measured))
    assert torch.equal(value, twin.readout(measured))  # forward = the measurement
    loss = torch.nn.functional.cross_entropy(value, y)
    pat_grads = torch.autograd.grad(loss, params)

    # by hand: upstream gradient evaluated at the measurement, pulled back through the twin
    m = twin.readout(measured).clone().requires_grad_()
    (g_out,) = torch.autograd.grad(torch.nn.functional.cross_entropy(m, y), m)
    manual = torch.autograd.grad(twin.readout(intensity(twin.run(x).output)), params, g_out)
    for a, b in zip(pat_grads, manual, strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def test_fuse_amplitude_keeps_twin_phase_and_measured_amplitude(gen):
    z = torch.randn(4, 6, generator=gen, dtype=torch.complex128, requires_grad=True)
    meas = torch.rand(4, 6, generator=gen, dtype=torch.float64)
    f = fuse_amplitude(z, meas)
    assert torch.allclose(f.abs() ** 2, meas)
    assert torch.allclose(torch.angle(f), torch.angle(z.detach()))
    (g,) = torch.autograd.grad(f.real.sum() + f.imag.sum(), z)
    assert torch.allclose(g, torch.full_like(g, 1 + 1j))  # identity backward (PyTorch convention)
