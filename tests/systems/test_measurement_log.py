import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from photonic_dat.exceptions import ConfigError, CorruptFileError, DeviceError
from photonic_dat.systems.measurement_log import LogReader, MeasurementLog, list_parts
from photonic_dat.training.run import evaluate_run, train_run
from tests.helpers import small_config


def _record(log, call: int, planes=("output",), block=None, setting: float = 0.0):
    size = 3
    log.record(
        params={"blocks.0.phase": torch.full((2, 2), setting)},
        fields=torch.full((size, 4), float(call), dtype=torch.complex64),
        planes={p: torch.full((size, 4), float(call)) for p in planes},
        block=block,
        inputs=("val", torch.arange(size) + 10 * call),
        start=1000.0 + call,
        latency=0.5,
        exposure={"output": 2.5},
        charged={"dark:output": 16} if call == 0 else {},
    )


def test_calls_read_back_with_their_setting_inputs_and_planes(tmp_path):
    log = MeasurementLog(tmp_path, info={"internal_taps": [0], "block_access": True})
    _record(log, 0)
    _record(log, 1, planes=("output", "tap:0"))  # a new plane: a new part
    _record(log, 2, planes=("block:1",), block=1, setting=1.0)
    log.close()
    assert [p.name for p in list_parts(tmp_path)] == [f"part-000{i}.h5" for i in range(3)]
    reader = LogReader(tmp_path)
    assert len(reader) == 3
    first, second, third = (reader.call(i) for i in range(3))
    assert set(second.planes) == {"output", "tap:0"}
    assert np.array_equal(second.planes["tap:0"], np.full((3, 4), 1.0, np.float32))
    assert (second.split, list(second.index)) == (1, [10, 11, 12])
    assert third.block == 1 and set(third.planes) == {"block:1"}
    assert first.params_digest == second.params_digest != third.params_digest
    assert np.array_equal(reader.parameters(2)["blocks.0.phase"], np.ones((2, 2), np.float32))
    assert (third.time, third.latency, np.isnan(third.exposure["block:1"])) == (1002.0, 0.5, True)
    assert first.exposure == {"output": 2.5} and second.exposure["output"] == 2.5
    assert (first.charged, second.charged) == ({"dark:output": 16}, {})
    with h5py.File(list_parts(tmp_path)[0], "r") as f:  # plain HDF5, as MATLAB sees it
        assert f["calls/count"][()] == 1
        assert f.attrs["format"] == "photonic-dat measurement log"


def test_a_closed_part_that_was_altered_is_reported_naming_it(tmp_path):
    log = MeasurementLog(tmp_path)
    for call in range(3):
        _record(log, call)
    log.close()
    part = list_parts(tmp_path)[0]
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0x01
    part.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="part-0000.h5"):
        LogReader(tmp_path)


def test_a_resumed_log_supersedes_the_calls_after_the_checkpoint(tmp_path):
    log = MeasurementLog(tmp_path)
    for call in range(5):
        _record(log, call)
    log.close()
    log = MeasurementLog(tmp_path, truncate_to=3)  # the checkpoint was taken after 3 calls
    assert log.records == 3
    for call in (30, 40):
        _record(log, call)
    log.close()
    reader = LogReader(tmp_path)
    assert [float(reader.call(i).planes["output"][0, 0]) for i in range(len(reader))] == [
        0.0,
        1.0,
        2.0,
        30.0,
        40.0,
    ]
    with pytest.raises(Exception, match="holds only 5"):
        MeasurementLog(tmp_path, truncate_to=99)


WRITER = """
import sys, torch
sys.path.insert(0, {root!r})
from tests.systems.test_measurement_log import _record
from photonic_dat.systems.measurement_log import MeasurementLog
log = MeasurementLog({path!r})
call = log.records
while True:
    _record(log, call, planes=("output", "tap:0"))
    call += 1
    if call % 20 == 0:
        print(call, flush=True)
"""


def test_a_log_cut_by_a_kill_mid_write_reads_to_its_last_complete_call(tmp_path):
    root = str(Path(__file__).resolve().parents[2])
    script = WRITER.format(root=root, path=str(tmp_path))
    written = 0
    for cut in range(2):  # kill a fresh log, then the one that continued it
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        target = written + 60 + 37 * cut
        while int(proc.stdout.readline() or target) < target:
            assert proc.poll() is None
        time.sleep(0.013 * (cut + 1))  # somewhere inside a later record
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with pytest.raises(OSError):  # flagged as still open for writing ...
            h5py.File(list_parts(tmp_path)[-1], "r")
        reader = LogReader(tmp_path)  # ... yet readable to its last complete call
        assert len(reader) >= target
        for i in range(len(reader)):
            call = reader.call(i)
            assert call.planes["tap:0"].shape == (3, 4)
            assert float(call.planes["tap:0"][2, 3]) == i and list(call.index) == [
                10 * i,
                10 * i + 1,
                10 * i + 2,
            ]
        written = len(reader)
        reader.close()
    MeasurementLog(tmp_path).close()  # opening for writing seals the killed parts
    for part in list_parts(tmp_path):
        h5py.File(part, "r").close()
    assert len(LogReader(tmp_path)) == written


def test_replay_of_a_recorded_run_gives_its_figures_and_refuses_what_it_lacks(tmp_path):
    noisy = ("system.detector.model=camera", "dat.internal_states=separable", "train.epochs=1")
    recorded = train_run(small_config(*noisy, "system.record=true"), tmp_path / "rec")
    cfg = small_config(*noisy, "system.kind=replay", f"system.replay_from={tmp_path / 'rec'}")
    replayed = train_run(cfg, tmp_path / "rep")
    for key in ("test_accuracy_physical", "val_accuracy_physical", "physical_frames", "frames"):
        assert replayed[key] == recorded[key], key
    assert json.loads((tmp_path / "rep" / "system" / "replay.json").read_text())["calls"] > 0
    again = evaluate_run(tmp_path / "rep")  # the test split with the selected model: logged
    assert again["test_accuracy_physical"] == recorded["test_accuracy_physical"]
    other = cfg.model_copy(update={"seed": 1})  # another initialisation: never measured
    with pytest.raises(DeviceError, match="no further measurement of this parameter setting"):
        train_run(other, tmp_path / "other")


def test_recording_without_h5py_is_a_clear_configuration_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ConfigError, match=r"photonic-dat\[log\]"):
        MeasurementLog(tmp_path)
