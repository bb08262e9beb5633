import pytest
import torch

from photonic_dat.config.factory import build_experiment
from photonic_dat.systems.drift import DriftingSystem, DriftSpec
from photonic_dat.training.loop import fit
from tests.helpers import small_config


def test_drift_schedule():
    spec = DriftSpec(phase_std=0.1, power=-0.2, onset=100, duration=50)
    assert [spec.fraction(n) for n in (0, 99, 100, 125, 150, 10**6)] == [0, 0, 0, 0.5, 1, 1]
    assert DriftSpec(phase_std=0.1, onset=10).fraction(10) == 1.0  # duration 0: a step
    assert not DriftSpec().active
    with pytest.raises(ValueError):
        DriftSpec(power=-1.0)


def _measure_twice(*overrides):
    exp = build_experiment(small_config(*overrides))
    x = exp.method.encode(exp.splits.train.images[:20])
    params = exp.method.display_params()
    return exp, exp.system.measure(params, x).output, exp.system.measure(params, x).output


def test_a_device_drifts_as_it_measures():
    _, plain, _ = _measure_twice()
    exp, before, after = _measure_twice("system.drift.phase_std=0.2", "system.drift.onset=20")
    assert isinstance(exp.system, DriftingSystem)
    assert torch.equal(before, plain)  # not yet
    assert (after - before).norm() / before.norm() > 0.05  # the phases moved
    assert exp.system.state()["fraction"] == 1.0
    # the drift is seeded from errors.seed: the same device drifts the same way
    _, _, again = _measure_twice("system.drift.phase_std=0.2", "system.drift.onset=20")
    assert torch.equal(after, again)
    _, _, other = _measure_twice(
        "system.drift.phase_std=0.2", "system.drift.onset=20", "errors.seed=1"
    )
    _, _, other_plain = _measure_twice("errors.seed=1")
    assert not torch.allclose(other - other_plain, after - plain)


def test_laser_power_drift_scales_the_light():
    # one mesh: a linear device, so the output power follows the laser exactly
    _, before, after = _measure_twice(
        "mpnn.meshes=1", "method=pat", "system.drift.power=-0.2", "system.drift.onset=20"
    )
    assert float(after.sum() / before.sum()) == pytest.approx(0.8, rel=1e-5)


def test_reference_pattern_shows_drift_and_dat_refits():
    common = (
        "dat.internal_states=unitary",
        "train.reference_every=2",
        "train.reference_samples=4",
        "train.drift_threshold=0.02",
        "dat.refit_steps=5",
    )
    steady = fit(build_experiment(small_config(*common)))
    assert all(r["change"] == 0 and not r["drift"] for r in steady.reference)
    assert steady.result["reference_measurements"] == len(steady.reference) == 8
    assert steady.result["selection_restarts"] == 0
    drifting = fit(
        build_experiment(
            small_config(
                *common,
                "system.drift.phase_std=0.3",
                "system.drift.power=-0.3",
                "system.drift.onset=300",
                "system.drift.duration=300",
            )
        )
    )
    records = drifting.reference
    assert records[0]["power"] == 1.0
    assert records[-1]["power"] < 0.9 and records[-1]["change_from_start"] > 0.02
    refits = [r for r in records if r["refit"]]
    assert refits and all(r["drift"] and r["samples"] > 300 for r in refits)
    assert drifting.result["device_session"]["drift"]["now"]["fraction"] == 1.0
    # selection started again after the drift: the selected epoch is one measured after it
    assert drifting.result["selection_restarts"] >= 1
    restarted = [h["epoch"] for h in drifting.history if h.get("selection_restarted")]
    assert drifting.best_epoch >= restarted[-1]


def test_the_test_split_is_measured_again_after_drift(tmp_path):
    from photonic_dat.training.run import evaluate_run, train_run

    result = train_run(small_config("method=pat", "train.epochs=1"), tmp_path / "run")
    steady = evaluate_run(tmp_path / "run")
    assert steady["test_accuracy_physical"] == result["test_accuracy_physical"]
    drifted = evaluate_run(
        tmp_path / "run", ["system.drift.phase_std=0.5", "system.drift.power=-0.5"]
    )
    assert drifted["test_accuracy_physical"] != steady["test_accuracy_physical"]
    assert drifted["test_accuracy_twin"] == steady["test_accuracy_twin"]
    assert drifted["overrides"] == ["system.drift.phase_std=0.5", "system.drift.power=-0.5"]


def test_a_drifting_camera_device_continues_from_its_checkpoint_state():
    overrides = (
        "system.detector.model=camera",
        "system.drift.phase_std=0.2",
        "system.drift.onset=10",
        "system.drift.duration=40",
    )
    a, b = build_experiment(small_config(*overrides)), build_experiment(small_config(*overrides))
    x = a.method.encode(a.splits.train.images[:20])
    params = a.method.display_params()
    a.system.measure(params, x)
    tensors, meta = a.system.checkpoint_state()
    b.system.restore_checkpoint_state(tensors, meta)  # the drift clock and the camera's noise
    assert b.system.state() == a.system.state()
    assert torch.equal(a.system.measure(params, x).output, b.system.measure(params, x).output)
