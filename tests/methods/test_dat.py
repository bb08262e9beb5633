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


def test_readout_ports_only_and_reference_output_similarity():
    """system.output_ports=readout: the device reads the 10 readout ports only and the twin
    is compared on the same view; dat.output_similarity=readout compares the normalised
    readout signals (the reference code's similarity at the output)."""
    cfg = small_config(
        "method=dat", "dat.internal_states=none", "system.output_ports=readout", "dat.lr=0.01"
    )
    exp = build_experiment(cfg)
    method = exp.method
    x, y = batch(exp, 100)
    measured = exp.system.measure(method.display_params(), x)
    assert measured.output.shape == (100, 10)
    scores = method.twin.readout(measured.output)
    assert torch.allclose(scores.norm(dim=1), torch.full((100,), 10.0))  # normalised over 10
    method.step(x, y)  # twin and device compared on the same 10 ports
    ref = build_experiment(small_config("method=dat", "dat.output_similarity=readout"))
    measured = ref.system.measure(ref.method.display_params(), x)
    assert measured.output.shape == (100, 16)  # all ports measured, normalised over all
    with torch.no_grad():
        twin = ref.method.corrected_run(x).output
        loss = ref.method._output_similarity(twin, measured.output)
        readout = ref.method.twin.readout
        expected = torch.nn.functional.mse_loss(
            readout(intensity(twin)) / 10, readout(measured.output) / 10
        )
    assert torch.allclose(loss, expected)


def test_a_step_reusing_the_twin_matrices_equals_one_rebuilding_them(monkeypatch):
    import contextlib

    from photonic_dat.models.pnn import PNN

    def run_steps():
        exp = build_experiment(small_config("method=dat", "dat.internal_states=unitary"))
        x, y = batch(exp, 50)
        metrics = [exp.method.step(x, y) for _ in range(3)]
        return metrics, [p.detach().clone() for p in exp.method.optical_params]

    reused = run_steps()
    monkeypatch.setattr(PNN, "caching_physics", lambda self: contextlib.nullcontext())
    rebuilt = run_steps()
    assert reused[0] == rebuilt[0]
    for a, b in zip(reused[1], rebuilt[1], strict=True):
        assert torch.equal(a, b)
