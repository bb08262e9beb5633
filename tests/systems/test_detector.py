import pytest
import torch

from photonic_dat.systems.detector import Detectors, DetectorSpec


def _detectors(**spec):
    charged = {}

    def charge(plane, frames):
        charged[plane] = charged.get(plane, 0) + frames

    det = Detectors(DetectorSpec(model="camera", **spec), 1, 2, charge=charge)
    return det, charged


def test_ideal_detector_returns_the_irradiance():
    x = torch.rand(4, 8, 8)
    assert torch.equal(Detectors(DetectorSpec(), 0, 0).read("output", x), x)


def test_commissioning_fixes_the_exposure_and_subtracts_the_dark_level():
    det, charged = _detectors(dark_frames=8)
    light = torch.rand(64, 10, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    read = det.read("output", light)
    assert charged == {"dark:output": 8}
    state = det.summary()["output"]
    assert state["full_scale"] == pytest.approx(float(light.max()) / 0.5)
    # unbiased after dark subtraction, noisy (shot + read noise)
    assert float((read - light).mean()) == pytest.approx(0.0, abs=2e-3)
    assert 1e-4 < float((read - light).std()) < 0.05
    # the exposure stays fixed: a dimmer batch is read with the same full scale
    det.read("output", 0.1 * light)
    assert det.summary()["output"]["full_scale"] == state["full_scale"]


def test_saturated_frames_are_measured_again_at_a_lower_exposure():
    det, charged = _detectors()
    light = torch.full((10, 4, 4), 1.0, dtype=torch.float64)
    det.read("tap:0", light)  # full scale 2
    out = det.read("tap:0", 5 * light)  # saturates: exposure halved twice, re-measured
    summary = det.summary()["tap:0"]
    assert summary["exposure_changes"] == 2 and summary["full_scale"] == pytest.approx(8.0)
    assert charged["tap:0"] == 20  # the two saturated batches cost frames too
    assert float(out.mean()) == pytest.approx(5.0, rel=0.01)
