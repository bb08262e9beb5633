import logging

import pytest
import torch

from photonic_dat.config.factory import build_experiment
from photonic_dat.exceptions import CapabilityError, ConfigError, DeviceError
from photonic_dat.training.loop import fit
from tests.helpers import small_config
from tests.systems.serving import make_key, remote_overrides, serving


@pytest.fixture
def key(tmp_path):
    return make_key(tmp_path)


def _remote(server, key, *overrides):
    return build_experiment(small_config(*remote_overrides(server, key), *overrides))


def test_remote_measurements_equal_in_process_bit_for_bit(key):
    config = small_config()
    local = build_experiment(config)
    with serving(config, key) as server:
        remote = _remote(server, key)
        try:
            for n in (2, 7, 50):  # the twin encodes on this side, the device on its own
                images = local.splits.train.images[:n]
                params = local.method.display_params()
                taps = local.method.twin.internal_taps
                a = local.system.measure(params, local.method.encode(images), taps)
                b = remote.system.measure(params, remote.method.encode(images), taps)
                assert torch.equal(a.output, b.output)
                assert all(torch.equal(a.taps[k], b.taps[k]) for k in taps)
            fields = local.method.encode(local.splits.train.images[:9])  # fields travel too
            a = local.system.measure_block(2, params, fields)
            b = remote.system.measure_block(2, params, fields)
            assert torch.equal(a, b)
            assert remote.system.queries.as_dict() == local.system.queries.as_dict()
            # the device paid for the sentinels, the trainer's counts did not
            report = remote.system.report()["remote"]
            assert report["sentinel_frames"] > 0 and report["remeasured"] == 0
        finally:
            remote.system.close()


def test_a_camera_device_is_equal_without_sentinels(key):
    """A camera (commissioned exposure, dark frames, shot and read noise, ADC) measures the
    same frames through the server; sentinels would change its exposure and noise draws."""
    config = small_config("system.detector.model=camera")
    local = build_experiment(config)
    with serving(config, key) as server:
        remote = _remote(server, key, "system.sentinels=0")
        try:
            for n in (1, 30):  # the noise stream is drawn in the same order on both
                images = local.splits.train.images[:n]
                params = local.method.display_params()
                a = local.system.measure(params, local.method.encode(images))
                b = remote.system.measure(params, remote.method.encode(images))
                assert torch.equal(a.output, b.output)
        finally:
            remote.system.close()


FAULTS = (
    "drop-reply@3,delay@5=0.7,restart@8,duplicate-frame@11,frame-lag@14,"
    "stale-frame@17,drop-frame@19,saturate-frame@21"
)


def _figures(result):
    keys = (
        "test_accuracy_physical",
        "test_accuracy_twin",
        "val_accuracy_physical",
        "best_epoch",
        "physical_queries",
        "physical_frames",
        "frames",
        "parameter_uploads",
    )
    return {k: result[k] for k in keys}


def test_dat_with_injected_faults_ends_as_a_fault_free_run(key):
    """Dropped replies, a restart, duplicated / stale / dropped / lagged / saturated frames:
    every bad frame is measured again, the run's figures and parameters stay the same."""
    config = small_config("dat.internal_states=unitary")
    local = fit(build_experiment(config))
    with serving(config, key) as server:
        exp = _remote(server, key, "dat.internal_states=unitary")
        clean = fit(exp)
        exp.system.close()
    with serving(config, key, faults=FAULTS) as server:
        exp = _remote(server, key, "dat.internal_states=unitary")
        faulty = fit(exp)
        exp.system.close()
        assert server.stats.restarts == 1
        # the retries after the dropped and the late reply were answered from the cache
        assert server.stats.cache_hits == 2
    assert _figures(faulty.result) == _figures(clean.result) == _figures(local.result)
    assert all(torch.equal(faulty.state[k], local.state[k]) for k in local.state)
    assert [h["task_loss"] for h in faulty.history] == [h["task_loss"] for h in local.history]
    report = faulty.result["device_session"]["remote"]
    assert report["remeasured"] == 5  # five bad replies, each measured again
    assert report["timeouts"] == 3 and report["reconnects"] == 1
    problems = " ".join(b["problem"] for b in report["bad_replies"])
    for symptom in ("ids do not match", "sentinel", "saturated"):
        assert symptom in problems


def test_bad_frames_beyond_the_retries_fail_loudly(key):
    config = small_config()
    with serving(config, key, faults="frame-lag@1,frame-lag@2,frame-lag@3") as server:
        exp = _remote(server, key, "system.frame_retries=2")
        try:
            x = exp.method.encode(exp.splits.train.images[:20])
            with pytest.raises(DeviceError, match="no trustworthy frames"):
                exp.system.measure(exp.method.display_params(), x)
        finally:
            exp.system.close()


def test_a_dead_server_is_a_device_error_after_bounded_retries(key):
    config = small_config()
    with serving(config, key, faults="drop-reply@1,drop-reply@2") as server:
        exp = _remote(server, key, "system.retries=1", "system.timeout_s=0.2")
        try:
            x = exp.method.encode(exp.splits.train.images[:5])
            with pytest.raises(DeviceError, match="did not answer"):
                exp.system.measure(exp.method.display_params(), x)
        finally:
            exp.system.close()


def test_one_client_at_a_time_and_the_lease_expires(key):
    config = small_config()
    with serving(config, key, lease_s=0.5) as server:
        first = _remote(server, key)
        with pytest.raises(DeviceError, match="leased to"):
            _remote(server, key)
        import time

        time.sleep(0.6)  # the first client fell silent: its lease expired
        second = _remote(server, key)
        x = first.method.encode(first.splits.train.images[:4])
        with pytest.raises(DeviceError, match="leased to"):
            first.system.measure(first.method.display_params(), x)
        second.system.close()
        first.system.measure(first.method.display_params(), x)  # free again: it reconnects
        first.system.close()


def test_capabilities_and_configuration_mismatches_are_clear(key, tmp_path):
    config = small_config("system.internal_taps=false")
    with serving(config, key) as server:
        exp = _remote(server, key, "method=pat")
        try:
            assert exp.system.capabilities.internal_taps == ()
            x = exp.method.encode(exp.splits.train.images[:4])
            with pytest.raises(CapabilityError, match="internal states"):
                exp.system.measure(exp.method.display_params(), x, taps=(0,))
        finally:
            exp.system.close()
        with pytest.raises(ConfigError, match="differs"):
            _remote(server, key, "mpnn.meshes=3")
        other = make_key(tmp_path, "other", "another-secret-" * 3)
        with pytest.raises(ConfigError, match="refused our key"):
            _remote(server, other)


def test_dat_refuses_a_remote_device_without_taps(key):
    config = small_config("system.internal_taps=false")
    with serving(config, key) as server:
        with pytest.raises(CapabilityError):
            _remote(server, key, "dat.internal_states=unitary")
        _remote(server, key, "method=pat").system.close()  # the lease was given back


def test_connection_is_recorded_in_the_run(key, tmp_path):
    config = small_config()
    with serving(config, key) as server:
        exp = _remote(server, key)
        exp.system.save_device(tmp_path / "system")
        exp.system.close()
    import json

    record = json.loads((tmp_path / "system" / "remote.json").read_text())
    assert record["protocol"] == 1
    assert record["identity"]["digest"] == server.identity["digest"]
    files = record["identity"]["calibration_files"]
    assert set(files) == {"errors.safetensors", "errors.json"}
    assert all(v.startswith("sha256:") for v in files.values())
    assert record["capabilities"] == {"internal_taps": [0], "block_access": True}


def test_server_logs_what_it_refuses(key, caplog):
    config = small_config()
    with serving(config, key) as server:
        other = make_key(key.parent, "other", "another-secret-" * 3)
        with (
            caplog.at_level(logging.WARNING, logger="photonic_dat.systems.server"),
            pytest.raises(ConfigError),
        ):
            _remote(server, other)
        assert any("unauthenticated" in r.getMessage() for r in caplog.records)


def test_a_different_device_after_a_restart_stops_the_run(key):
    from photonic_dat.config.serving import served_device
    from photonic_dat.systems.faults import FaultPlan
    from photonic_dat.systems.keys import load_key
    from photonic_dat.systems.server import MeasurementServer

    config = small_config()
    served = served_device(config)
    makes = iter([served.make, served_device(small_config("errors.seed=7")).make])
    served.make = lambda: next(makes)()
    server = MeasurementServer(
        served, key=load_key(key), address="tcp://127.0.0.1:*", faults=FaultPlan.parse("restart@1")
    )
    server.start()
    try:
        exp = _remote(server, key)
        x = exp.method.encode(exp.splits.train.images[:4])
        with pytest.raises(DeviceError, match="different one"):
            exp.system.measure(exp.method.display_params(), x)
        exp.system.close()
    finally:
        server.stop()


def test_a_diffractive_device_through_the_server(key):
    """Fields of n x n pixels and block-level access travel too (DAT separable mode)."""
    from tests.config.test_dpnn_family import TINY

    config = small_config(*TINY, "errors.shift_std=2e-6", "dat.internal_states=separable")
    local = build_experiment(config)
    with serving(config, key) as server:
        remote = build_experiment(
            small_config(*TINY, *remote_overrides(server, key), "dat.internal_states=separable")
        )
        try:
            images = local.splits.train.images[:5]
            params = local.method.display_params()
            taps = local.method.twin.internal_taps
            a = local.system.measure(params, local.method.encode(images), taps)
            b = remote.system.measure(params, remote.method.encode(images), taps)
            assert torch.equal(a.output, b.output) and a.output.shape[1:] == (24, 24)
            assert all(torch.equal(a.taps[k], b.taps[k]) for k in taps)
            x, y = remote.method.encode(images), local.splits.train.labels[:5]
            remote.method.step(x, y)  # separable: measure_block through the server
            assert remote.system.queries.block_samples == 5 * len(remote.method.sepns)
        finally:
            remote.system.close()


def test_real_states_of_a_noisy_crossbar_through_the_server(key):
    """Real-valued states travel too, and a detector noisier than the sentinel tolerance
    passes the lag check (its repeated frames still agree better than distinct inputs)."""
    from photonic_dat.config.loading import load_config

    base = ["data.train_samples=100", "data.val_samples=20", "data.test_samples=20"]
    base += ["train.progress=false", "dat.internal_states=separable"]
    config = load_config("crossbar-digits", base)
    with serving(config, key) as server:
        exp = build_experiment(
            load_config("crossbar-digits", [*base, *remote_overrides(server, key)])
        )
        try:
            x, y = exp.method.encode(exp.splits.train.images[:6]), exp.splits.train.labels[:6]
            exp.method.step(x, y)  # measure + block-level measurements of real states
            assert exp.system.queries.block_samples == 6 * len(exp.method.sepns)
            assert exp.system.report()["remote"]["remeasured"] == 0
        finally:
            exp.system.close()
