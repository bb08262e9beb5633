import torch

from photonic_dat.config.factory import build_experiment
from photonic_dat.methods.dat import similarity_loss
from photonic_dat.optics.detectors import intensity
from tests.helpers import batch, small_config


def _twin_vs_physical(exp, x):
    method = exp.method
    measured = exp.system.measure(method.display_params(), x, method.twin.internal_taps)
    with torch.no_grad():
        trace = method.corrected_run(x)
    loss = similarity_loss(intensity(trace.output), measured.output)
    return float(loss)


def test_similarity_steps_lower_twin_vs_physical_error():
    exp = build_experiment(small_config("method=dat", "dat.lr=0.01"))
    method = exp.method
    x = batch(exp, 200)[0]
    before = _twin_vs_physical(exp, x)
    optical_before = [p.detach().clone() for p in method.optical_params]
    for _ in range(30):
        measured = exp.system.measure(method.display_params(), x, method.taps)
        method._similarity_update(x, measured)
    after = _twin_vs_physical(exp, x)
    assert after < 0.5 * before
    # the similarity step never touches the optical parameters
    for p, q in zip(method.optical_params, optical_before, strict=True):
        assert torch.equal(p.detach(), q)


def test_separable_mode_fits_blocks_with_block_queries():
    exp = build_experiment(
        small_config("method=dat", "dat.internal_states=separable", "dat.lr=0.01")
    )
    x, y = batch(exp, 50)[0], batch(exp, 50)[1]
    before = _twin_vs_physical(exp, x)
    for _ in range(20):
        exp.method.step(x, y)
    assert exp.system.queries.block_samples == 20 * 50 * 2  # two meshes, each driven alone
    assert _twin_vs_physical(exp, x) < before


def test_task_step_uses_one_measurement_and_updates_only_optics():
    exp = build_experiment(small_config("method=dat"))
    method = exp.method
    x, y = batch(exp, 50)[0], batch(exp, 50)[1]
    sepn_before = [p.detach().clone() for p in method.sepn_params]
    method.step(x, y)
    assert exp.system.queries.samples == 50
    changed = any(
        not torch.equal(p, q) for p, q in zip(method.sepn_params, sepn_before, strict=True)
    )
    assert changed  # the similarity step trained the SEPNs
