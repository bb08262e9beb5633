import time

import pytest
import torch

from photonic_dat.config.dpnn_family import build_dpnn, dpnn_error_spec
from photonic_dat.config.factory import build_experiment, build_pnn, build_sepns, error_spec
from photonic_dat.config.loading import load_config
from photonic_dat.config.presets import list_presets, preset_path
from photonic_dat.errors.specs import DiffractiveErrorSpec
from photonic_dat.models.diffractive import DiffractiveLayer, FreeSpace
from photonic_dat.optics.detectors import intensity
from photonic_dat.systems.base import CapabilityError
from photonic_dat.training.loop import fit
from photonic_dat.training.run import evaluate_run, train_run
from tests.helpers import batch

# a tiny DPNN on the 8x8 digits: 3 layers of 24 x 24 neurons, 2.5 mm apart
TINY = [
    "model=dpnn",
    "dpnn.neurons=24",
    "dpnn.layers=3",
    "dpnn.distance=0.0025",
    "dpnn.input_size=12",
    "dpnn.detector_size=3",
    "data.train_samples=300",
    "data.val_samples=100",
    "data.test_samples=200",
    "dat.sepn.features=[4, 8]",
    "dat.sepn_start_epoch=0",
    "dat.lr=0.01",
    "train.epochs=2",
    "train.batch_size=50",
    "train.lr=0.05",
    "train.progress=false",
]
# joint errors of plausible size (see the dpnn-cpu-errors preset)
JOINT = [
    "errors.shift_std=2e-6",
    "errors.rotation_std=1e-3",
    "errors.distance_std=1e-4",
    "errors.phase_gain_std=0.05",
    "errors.phase_gamma_std=0.05",
    "errors.phase_levels=32",
    "errors.pixel_phase_std=0.1",
    "errors.fringing_sigma=3e-6",
    "errors.illumination_waist=1e-3",
    "errors.illumination_tilt_std=2e-4",
]


def tiny(*overrides: str):
    return load_config(None, [*TINY, *JOINT, *overrides])


def test_build_dpnn_structure_and_seeded_init():
    cfg = tiny("dpnn.init_std=0.5")
    pnn = build_dpnn(cfg)
    assert [type(b) for b in pnn.blocks] == [DiffractiveLayer] * 3 + [FreeSpace]
    assert pnn.blocks[0].illuminated and not pnn.blocks[1].illuminated
    assert pnn.internal_taps == (0, 1, 2)
    assert pnn.trainable_blocks == (0, 1, 2)
    assert set(pnn.optical_parameters()) == {f"blocks.{k}.raw" for k in range(3)}
    again = build_dpnn(cfg)
    assert torch.equal(pnn.blocks[1].raw, again.blocks[1].raw)
    other = build_dpnn(tiny("dpnn.init_std=0.5", "seed=1"))
    assert not torch.equal(pnn.blocks[1].raw, other.blocks[1].raw)
    assert torch.count_nonzero(build_dpnn(tiny()).blocks[0].raw) == 0  # default: zero phases
    scores = pnn(torch.rand(5, 8, 8))
    assert scores.shape == (5, 10)
    # gaps: input, layer, output distances
    cfg = tiny("dpnn.input_distance=0.001", "dpnn.output_distance=0.004")
    pnn = build_pnn(cfg)
    assert [b.distance for b in pnn.blocks] == [0.001, 0.0025, 0.0025, 0.004]


def test_error_spec_from_config():
    cfg = tiny()
    spec = error_spec(cfg)
    assert isinstance(spec, DiffractiveErrorSpec)
    assert spec == dpnn_error_spec(cfg)
    assert (spec.shift_std, spec.phase_levels, spec.illumination_waist) == (2e-6, 32, 1e-3)


def test_bad_detector_layout_names_the_key():
    with pytest.raises(ValueError, match="dpnn.detector_size"):
        build_dpnn(tiny("dpnn.detector_size=10"))
    with pytest.raises(ValueError, match="input_size"):
        build_dpnn(tiny("dpnn.input_size=30"))


def test_one_sepn_per_diffractive_layer_at_working_size():
    cfg = tiny("dat.sepn.working_size=12")
    pnn = build_dpnn(cfg)
    sepns = build_sepns(cfg, pnn)
    assert sorted(sepns) == [0, 1, 2]  # the final free-space gap carries none
    field = torch.randn(2, 24, 24, dtype=torch.complex64)
    assert sepns[1](field).shape == (2, 24, 24)
    assert sepns[1].sepn.working_size == (12, 12)


@pytest.mark.parametrize(
    "method",
    [
        ["method=insilico"],
        ["method=pat"],
        ["method=dat", "dat.internal_states=none"],
        ["method=dat", "dat.internal_states=unitary"],
        ["method=dat", "dat.internal_states=separable"],
    ],
)
def test_every_method_steps_on_the_dpnn(method):
    exp = build_experiment(tiny(*method))
    x, y = batch(exp, 20)
    assert x.shape == (20, 24, 24) and x.is_complex()
    before = [p.detach().clone() for p in exp.method.optical_params]
    metrics = exp.method.step(x, y)
    assert metrics["task_loss"] > 0
    assert any(
        not torch.equal(p, q) for p, q in zip(exp.method.optical_params, before, strict=True)
    )
    if method[0] != "method=insilico":
        assert exp.system.queries.samples == 20
    if method[-1].endswith("separable"):
        assert exp.system.queries.block_samples == 20 * 3  # one block query per layer


def test_unitary_mode_needs_internal_taps():
    with pytest.raises(CapabilityError):
        build_experiment(tiny("method=dat", "system.internal_taps=false"))


def test_simulated_device_measures_the_perturbed_dpnn():
    exp = build_experiment(tiny("method=dat"))
    x, _ = batch(exp, 8)
    params = exp.method.display_params()
    m = exp.system.measure(params, x, taps=exp.method.twin.internal_taps)
    assert m.output.shape == (8, 24, 24) and set(m.taps) == {0, 1, 2}
    twin = exp.method.twin.run(x)
    rel = (m.output - intensity(twin.output)).norm() / m.output.norm()
    assert rel > 0.05
    # with no errors, one sample per pixel and a full fill factor the device is the twin ...
    clean = build_experiment(load_config(None, [*TINY, "system.samples_per_pixel=1"]))
    m0 = clean.system.measure(clean.method.display_params(), x)
    assert torch.allclose(m0.output, intensity(clean.method.twin.run(x).output), atol=1e-6)
    # ... but on its finer grid the error-free device still differs from the twin (the
    # pixelated masks diffract at their edges)
    fine = build_experiment(load_config(None, [*TINY, "system.samples_per_pixel=4"]))
    m4 = fine.system.measure(fine.method.display_params(), x).output
    rel4 = (m4 - intensity(fine.method.twin.run(x).output)).norm() / m4.norm()
    assert 1e-3 < rel4 < rel


def test_train_and_evaluate_run_directory(tmp_path):
    result = train_run(tiny("method=dat", "train.epochs=1"), tmp_path / "run")
    assert result["model"] == "dpnn" and result["sepn_parameters"] > 0
    again = evaluate_run(tmp_path / "run")
    assert again["test_accuracy_physical"] == pytest.approx(result["test_accuracy_physical"])


def test_presets_are_listed_and_load():
    names = list_presets()
    shipped = ("dpnn-cpu", "dpnn-paper")
    assert set(shipped) <= set(names)
    for name in shipped:
        path = preset_path(name)
        assert path.is_file() and path == preset_path(f"{name}.yaml")
        cfg = load_config(path)
        assert cfg.model == "dpnn" and cfg.data.name == "mnist"
        build_dpnn(cfg)
    with pytest.raises(ValueError, match="dpnn-cpu"):
        preset_path("no-such-preset")


def test_paper_scale_dpnn_forward_backward_on_cpu():
    cfg = load_config(preset_path("dpnn-paper"))
    pnn = build_pnn(cfg)
    n_phases = sum(p.numel() for p in pnn.optical_parameters().values())
    assert n_phases == 7 * 200 * 200 == 280_000
    sepns = build_sepns(cfg, pnn)
    assert sorted(sepns) == list(range(7))
    start = time.perf_counter()
    images = torch.rand(2, 28, 28)

    def hook(k, field):
        return field + sepns[k](field) if k in sepns else field

    out = pnn.run(pnn.encoder(images), hook=hook).output
    loss = torch.nn.functional.cross_entropy(pnn.readout(intensity(out)), torch.tensor([3, 7]))
    loss.backward()
    assert all(p.grad is not None for p in pnn.parameters())
    assert time.perf_counter() - start < 20.0


@pytest.mark.slow
def test_dat_with_internal_states_beats_direct_deployment():
    """Digits, 3 layers of 32 x 32, joint errors: DAT w/ IS >= direct deployment + 10 points."""
    common = [
        "dpnn.neurons=32",
        "dpnn.distance=0.003",
        "dpnn.input_size=16",
        "dpnn.detector_size=3",
        "data.train_samples=600",
        "data.val_samples=200",
        "data.test_samples=300",
        "train.epochs=6",
        "dat.sepn_start_epoch=1",
        "dat.sepn.working_size=16",
        "system.samples_per_pixel=2",
    ]
    direct = fit(build_experiment(tiny(*common, "method=insilico"))).result
    dat = fit(build_experiment(tiny(*common, "method=dat", "dat.internal_states=unitary"))).result
    assert direct["test_accuracy_twin"] > 0.8  # the twin itself learns the task
    margin = dat["test_accuracy_physical"] - direct["test_accuracy_physical"]
    assert margin >= 0.10, (direct, dat)
