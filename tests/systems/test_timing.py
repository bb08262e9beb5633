import time

import pytest

from photonic_dat.config.factory import build_experiment
from photonic_dat.systems.timing import DeviceTimings
from photonic_dat.systems.wrappers import PacedSystem
from tests.helpers import small_config


def test_device_time_is_accounted_at_the_declared_timings():
    exp = build_experiment(
        small_config(
            "system.timings.upload_s=0.02",
            "system.timings.frame_s=0.01",
            "system.timings.readout_s=0.001",
        )
    )
    x = exp.method.encode(exp.splits.train.images[:10])
    params = exp.method.display_params()
    exp.system.measure(params, x, taps=(0,))
    exp.system.measure(params, x)  # same parameters: no upload
    q = exp.system.queries
    assert q.device_seconds == pytest.approx(30 * 0.011 + 1 * 0.02)
    assert q.as_dict()["device_seconds"] == q.device_seconds


def test_paced_device_takes_as_long_as_it_declares():
    exp = build_experiment(
        small_config(
            "system.timings.upload_s=0.05",
            "system.timings.frame_s=0.002",
            "system.emulate_timings=true",
        )
    )
    assert isinstance(exp.system, PacedSystem)
    x = exp.method.encode(exp.splits.train.images[:10])
    params = exp.method.display_params()
    start = time.perf_counter()
    exp.system.measure(params, x, taps=(0,))  # 20 frames + an upload
    assert time.perf_counter() - start >= 0.05 + 20 * 0.002
    start = time.perf_counter()
    exp.system.measure_block(0, params, x)  # no new upload
    elapsed = time.perf_counter() - start
    assert elapsed >= 10 * 0.002


def test_timings_must_be_finite_and_non_negative():
    with pytest.raises(ValueError):
        DeviceTimings(frame_s=-1)
    with pytest.raises(ValueError):
        DeviceTimings(upload_s=float("nan"))
    assert not DeviceTimings().declared and DeviceTimings(readout_s=1e-3).declared
