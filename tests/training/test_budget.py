import pytest

from photonic_dat.config.factory import build_experiment
from photonic_dat.training.budget import plan_run
from photonic_dat.training.loop import fit
from tests.helpers import small_config
from tests.systems.serving import make_key, remote_overrides, serving

TIMINGS = ("system.timings.upload_s=0.02", "system.timings.frame_s=0.01")


@pytest.mark.parametrize(
    "method",
    [
        ("method=insilico",),
        ("method=pat", "train.reference_every=3"),
        ("dat.internal_states=none",),
        ("dat.internal_states=unitary", "train.reference_every=4"),
        ("dat.internal_states=separable",),
        ("method=pat", "train.measure_test=false"),
    ],
)
def test_dry_run_counts_the_frames_a_run_measures(method):
    config = small_config(*TIMINGS, *method, "data.train_samples=130", "train.batch_size=40")
    phases, timings, _ = plan_run(config)
    exp = build_experiment(config)
    fit(exp)
    q = exp.system.queries
    assert sum(p.frames for p in phases) == q.total_frames
    assert sum(p.samples for p in phases) == q.total
    estimated_uploads = sum(p.uploads for p in phases)
    assert estimated_uploads - config.train.epochs - 1 <= q.parameter_uploads
    assert q.parameter_uploads <= estimated_uploads
    seconds = sum(p.seconds for p in phases)
    spare_uploads = (estimated_uploads - q.parameter_uploads) * 0.02
    assert q.device_seconds == pytest.approx(seconds - spare_uploads)


def test_dry_run_of_a_remote_run_counts_sentinels_and_asks_the_device(tmp_path):
    key = make_key(tmp_path)
    served = small_config(*TIMINGS)
    with serving(served, key) as server:
        config = small_config(*remote_overrides(server, key), "dat.internal_states=unitary")
        phases, timings, source = plan_run(config)
        assert "declared by SimulatedSystem" in source and timings.frame_s == 0.01
        exp = build_experiment(config)
        fit(exp)
        report = exp.system.report()["remote"]
        exp.system.close()
    assert sum(p.frames for p in phases) == report["device_frames"]


def test_dry_run_counts_calibration_probes_approximately():
    config = small_config(*TIMINGS, "method=calibration", "calibration.frames=600")
    phases, _, _ = plan_run(config)
    assert phases[0].name.startswith("calibration") and phases[0].frames == 600
    assert not any(p.name == "training" for p in phases)
    exp = build_experiment(config)
    result = fit(exp).result
    probes = result["calibration"]["probe_frames"]
    assert abs(probes - 600) <= 0.1 * 600
