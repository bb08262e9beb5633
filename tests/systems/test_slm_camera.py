"""The SLM + camera adapter on slmsuite's simulated SLM and camera (extra ``[slm]``)."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from photonic_dat.config.factory import build_pnn, build_system
from photonic_dat.config.loading import load_config
from photonic_dat.models.blocks import observe
from photonic_dat.systems.slm_camera import (
    CameraCalibration,
    SLMCameraSystem,
    fit_affine,
    spot_centroid,
)

NO_ERRORS = [
    f"errors.slm.{key}=0"
    for key in (
        "aberration_rms",
        "beam_waist_std",
        "beam_offset_std",
        "phase_range_std",
        "phase_gamma_std",
        "vignetting",
        "read_noise",
    )
]


def test_affine_fit_is_exact_on_exact_points():
    twin = np.array([[0, 0], [0, 4], [4, 0], [4, 4], [2, 1]], dtype=float)
    truth = np.array([[1.9, -0.1], [0.08, 2.05]])
    camera = twin @ truth.T + np.array([10.0, 7.5])
    affine, offset, rms = fit_affine(twin, camera)
    np.testing.assert_allclose(affine, truth, atol=1e-9)
    np.testing.assert_allclose(offset, [10.0, 7.5], atol=1e-9)
    assert rms < 1e-9


def test_centroid_of_a_gaussian_spot():
    rows, cols = np.mgrid[0:32, 0:32]
    frame = 100 * np.exp(-((rows - 12.3) ** 2 + (cols - 20.6) ** 2) / 4)
    r, c = spot_centroid(frame, radius=5)
    assert abs(r - 12.3) < 0.1 and abs(c - 20.6) < 0.1


def _lab(*overrides):
    pytest.importorskip("slmsuite")
    cfg = load_config("slm-digits", list(overrides))
    pnn = build_pnn(cfg)
    return pnn, build_system(cfg, pnn)


def _inputs(pnn, n=16):
    return pnn.encoder(torch.rand(n, 8, 8, generator=torch.Generator().manual_seed(0)))


def test_error_free_lab_measures_what_the_twin_predicts():
    pnn, system = _lab(*NO_ERRORS)
    assert isinstance(system, SLMCameraSystem)
    assert system.calibration.fit_rms < 0.5  # camera pixels
    x = _inputs(pnn)
    measured = system.measure(pnn.optical_parameters(), x).output
    twin = observe(pnn.run(x).output).detach()
    a = measured / measured.sum((1, 2), keepdim=True)
    b = twin / twin.sum((1, 2), keepdim=True)
    assert float((a - b).norm() / b.norm()) < 0.15
    frames = system.queries.frames
    assert frames["output"] == 16 and frames["calibration"] > 25  # dark, exposure, gratings


def test_registration_predicts_spots_it_was_not_fitted_on():
    """Hidden camera offset, rotation and magnification: the fitted affine still puts a new
    grating's spot where the camera sees it."""
    pnn, system = _lab()
    cal = system.calibration
    for ky, kx in [(1, 3), (-3, -1)]:
        frame = system._capture(system._grating(ky, kx)) - cal.dark.numpy()
        seen = np.array(spot_centroid(frame, system.settings.spot_radius))
        centre = system.window // 2
        twin = np.array([centre + system.pad * ky, centre + system.pad * kx])
        predicted = np.array(cal.affine) @ twin + np.array(cal.offset)
        assert np.abs(seen - predicted).max() < 0.75


def test_stored_calibration_is_reused(tmp_path):
    pnn, system = _lab()
    system.save_device(tmp_path)
    assert (tmp_path / "calibration.json").is_file() and (tmp_path / "errors.json").is_file()
    loaded = CameraCalibration.load(tmp_path)
    assert loaded.affine == system.calibration.affine
    _, again = _lab(f"system.slmsuite.calibration={tmp_path}")
    assert "calibration" not in again.queries.frames  # nothing spent on calibrating
    x = _inputs(pnn, 8)
    params = pnn.optical_parameters()
    a, repeat = (system.measure(params, x).output for _ in range(2))
    b = again.measure(params, x).output
    noise = float((a - repeat).norm())  # read noise of the same system
    assert float((a - b).norm()) < 1.5 * noise


def test_calibrate_command_writes_calibration_and_commissioning_report(tmp_path):
    pytest.importorskip("slmsuite")
    from photonic_dat.cli.main import app

    out = tmp_path / "cal"
    args = ["calibrate", "slm-digits", "--patterns", "1", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in ("calibration.json", "dark.safetensors", "commissioning.json", "commissioning.png"):
        assert (out / name).is_file(), name
    report = json.loads((out / "commissioning.json").read_text())
    names = [row["pattern"] for row in report["patterns"]]
    assert names[0] == "blank" and names[-1] == "random 0" and len(names) == 5
    # the hidden lab errors are far above the repeat-measurement noise floor
    summary = report["summary"]
    assert summary["median_relative_residual"] > 3 * summary["median_noise_floor"]


def test_a_resumed_lab_keeps_its_calibration_and_read_noise():
    pnn, system = _lab()
    x, params = _inputs(pnn, 4), pnn.optical_parameters()
    system.measure(params, x)
    tensors, meta = system.checkpoint_state()
    expected = system.measure(params, x).output
    _, resumed = _lab("system.slmsuite.exposure_fraction=0.5")  # calibrated differently
    resumed.restore_checkpoint_state(tensors, meta)
    assert resumed.calibration.exposure_s == system.calibration.exposure_s
    torch.testing.assert_close(resumed.measure(params, x).output, expected)
