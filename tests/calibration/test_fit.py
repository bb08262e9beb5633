import pytest
import torch

from photonic_dat.calibration import CalibrationSettings, ErrorModel, calibrate
from photonic_dat.config.factory import build_experiment
from photonic_dat.exceptions import ConfigError
from photonic_dat.experiments.compare import config_for, parse_methods
from photonic_dat.seeding import stream_generator
from photonic_dat.training.loop import fit
from tests.helpers import small_config


def test_error_model_starts_ideal_and_maps_to_block_errors():
    exp = build_experiment(small_config())
    model = ErrorModel(exp.method.twin)
    errors = model.realisation(detach=True)
    mesh = errors.block(0)
    assert set(mesh) == {"bs_error", "theta_offset", "phi_offset", "phi_in_offset"}
    assert all(float(t.abs().max()) == 0 for t in mesh.values())
    assert errors.block(1) == {}  # the activation has no calibrated errors
    x = exp.method.encode(exp.splits.train.images[:4])
    ideal = exp.method.twin.run(x).output
    assert torch.allclose(exp.method.twin.run(x, errors=errors).output, ideal, atol=1e-5)


def test_calibration_explains_the_mesh_errors_within_its_frame_budget():
    exp = build_experiment(small_config("method=calibration"))
    method, system = exp.method, exp.system
    settings = CalibrationSettings(frames=30_000, settings=6, lr=0.05)
    fitted, record = calibrate(
        method.twin,
        system,
        exp.splits.train.images,
        method.encode,
        settings,
        stream_generator(0, "calibration"),
    )
    assert record["probe_frames"] == system.queries.total_frames
    assert 30_000 - 2 * 100 <= record["probe_frames"] <= 30_000
    assert record["holdout_similarity_fitted"] < 0.1 * record["holdout_similarity_ideal"]
    # the fitted split errors follow the hidden ones
    truth = system._realisation.block(0)["bs_error"].flatten()
    guess = fitted.block(0)["bs_error"].flatten().to(truth.dtype)
    assert float(torch.corrcoef(torch.stack([truth, guess]))[0, 1]) > 0.5


def test_calibration_method_and_calibrated_dat_report_their_probes():
    cal = fit(build_experiment(small_config("method=calibration", "calibration.frames=4000")))
    assert cal.result["method"] == "calibration"
    assert cal.result["calibration"]["probe_frames"] <= 4000
    assert cal.result["physical_frames"] > cal.result["calibration"]["probe_frames"]  # + val
    cfg = config_for(small_config("method=dat"), parse_methods("dat-unitary+cal")[0])
    assert cfg.calibration.enabled and cfg.dat.internal_states == "unitary"
    dat = fit(build_experiment(cfg))
    # default budget: what DAT with internal states spends training (epochs x samples x planes)
    exp = build_experiment(cfg)
    planes = 1 + len(exp.system.capabilities.internal_taps)
    budget = cfg.train.epochs * len(exp.splits.train) * planes
    assert budget - 200 <= dat.result["calibration"]["probe_frames"] <= budget
    with pytest.raises(ConfigError, match="pat and dat"):
        parse_methods("insilico+cal")
