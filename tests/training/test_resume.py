"""A stopped run continues from its checkpoints with the same numbers as one never stopped."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from photonic_dat.config.loading import dump_config
from photonic_dat.exceptions import ConfigError
from photonic_dat.methods.dat import DAT
from photonic_dat.methods.pat import PAT
from photonic_dat.training import run as run_module
from photonic_dat.training.checkpoint import CheckpointStore
from photonic_dat.training.run import train_run
from tests.helpers import small_config

#: detector noise on, so that a resume must restore the device's noise generator too
NOISE = ("system.detector.model=camera", "system.detector.full_well=2000")
FIGURES = (
    "test_accuracy_physical",
    "test_accuracy_twin",
    "val_accuracy_physical",
    "best_epoch",
    "physical_queries",
    "physical_frames",
    "frames",
    "parameter_uploads",
    "queries",
)


def _timeless(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


def assert_same_run(a: Path, b: Path) -> None:
    ra, rb = (json.loads((d / "result.json").read_text()) for d in (a, b))
    assert {k: ra[k] for k in FIGURES} == {k: rb[k] for k in FIGURES}
    assert _timeless(a) == _timeless(b)
    ma, mb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert ma.keys() == mb.keys()
    for key in ma:
        assert ma[key].equal(mb[key]), key


def interrupt_at(monkeypatch, cls, call: int) -> None:
    """Make the ``call``-th training step of ``cls`` raise, as if the process stopped there."""
    original = cls.step
    count = {"n": 0}

    def step(self, fields, labels):
        count["n"] += 1
        if count["n"] == call:
            raise KeyboardInterrupt
        return original(self, fields, labels)

    monkeypatch.setattr(cls, step.__name__, step)


@pytest.mark.parametrize(
    "overrides, cls",
    [
        (("method=dat", "dat.internal_states=unitary", *NOISE), DAT),
        (("method=dat", "dat.internal_states=separable", *NOISE), DAT),
        (("method=pat", *NOISE), PAT),
    ],
)
def test_interrupted_run_resumes_to_the_same_figures(tmp_path, monkeypatch, overrides, cls):
    cfg = small_config(*overrides, "train.epochs=3", "train.checkpoint_every=3")
    train_run(cfg, tmp_path / "whole")
    with monkeypatch.context() as patch:
        interrupt_at(patch, cls, 13)  # epoch 2 of 3 (8 batches per epoch), after step 12
        with pytest.raises(KeyboardInterrupt):
            train_run(cfg, tmp_path / "cut")
    assert not (tmp_path / "cut" / "result.json").exists()
    newest = CheckpointStore(tmp_path / "cut" / "checkpoints").list()[-1]
    assert (newest.epoch, newest.batch) == (1, 4)  # mid-epoch
    train_run(cfg, tmp_path / "cut", resume=True)
    assert_same_run(tmp_path / "whole", tmp_path / "cut")


def test_a_calibrated_run_resumes_with_its_fitted_twin_and_does_not_calibrate_again(
    tmp_path, monkeypatch
):
    cfg = small_config("method=pat", *NOISE, "calibration.enabled=true", "calibration.frames=400")
    whole = train_run(cfg, tmp_path / "whole")
    assert whole["calibration"]["probe_frames"] > 0
    with monkeypatch.context() as patch:
        interrupt_at(patch, PAT, 3)  # epoch 1, after the checkpoint that follows calibration
        with pytest.raises(KeyboardInterrupt):
            train_run(cfg, tmp_path / "cut")
    newest = CheckpointStore(tmp_path / "cut" / "checkpoints").list()[-1]
    assert (newest.epoch, newest.batch) == (0, 0)
    with monkeypatch.context() as patch:
        patch.setattr(PAT, "prepare", lambda *a: pytest.fail("calibrated again"))
        resumed = train_run(cfg, tmp_path / "cut", resume=True)
    assert resumed["calibration"] == whole["calibration"]
    assert_same_run(tmp_path / "whole", tmp_path / "cut")


def test_resume_passes_a_damaged_newest_checkpoint(tmp_path, monkeypatch, caplog):
    cfg = small_config("method=dat", *NOISE, "train.checkpoint_every=3")
    train_run(cfg, tmp_path / "whole")
    with monkeypatch.context() as patch:
        interrupt_at(patch, DAT, 13)
        with pytest.raises(KeyboardInterrupt):
            train_run(cfg, tmp_path / "cut")
    newest = CheckpointStore(tmp_path / "cut" / "checkpoints").list()[-1]
    state = newest.path / CheckpointStore.STATE
    state.write_bytes(state.read_bytes()[:1000])  # truncated
    with caplog.at_level(logging.WARNING):
        train_run(cfg, tmp_path / "cut", resume=True)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and str(state) in warnings[0]
    assert_same_run(tmp_path / "whole", tmp_path / "cut")


def test_a_finished_run_is_returned_as_it_is_and_a_damaged_result_measured_again(
    tmp_path, monkeypatch, caplog
):
    cfg = small_config("method=pat", *NOISE)
    first = train_run(cfg, tmp_path / "r")
    with monkeypatch.context() as patch:
        patch.setattr(run_module, "fit", lambda *a, **k: pytest.fail("trained again"))
        assert train_run(cfg, tmp_path / "r", resume=True) == first
    result = tmp_path / "r" / "result.json"
    result.write_text(result.read_text().replace("0.", "1.", 1))  # altered, still valid JSON
    with caplog.at_level(logging.WARNING):
        again = train_run(cfg, tmp_path / "r", resume=True)
    assert any("result.json" in r.getMessage() for r in caplog.records)
    assert {k: again[k] for k in FIGURES} == {k: first[k] for k in FIGURES}


def test_resume_refuses_another_configuration(tmp_path):
    train_run(small_config("method=insilico", "train.epochs=1"), tmp_path / "r")
    other = small_config("method=insilico", "train.epochs=2", "train.progress=true")
    with pytest.raises(ConfigError, match=r"train\.epochs: 1 != 2"):
        train_run(other, tmp_path / "r", resume=True)


KILL_CONFIG = [
    "mpnn.ports=16",
    "mpnn.meshes=2",
    "mpnn.readout_temperature=10",
    "data.train_samples=240",
    "data.val_samples=100",
    "data.test_samples=200",
    "dat.sepn.features=[4, 8]",
    "dat.sepn_start_epoch=1",
    "train.epochs=3",
    "train.batch_size=25",
    "train.lr=0.01",
    "train.threads=1",
    "train.progress=false",
    "train.checkpoint_every=3",
    "system.record=true",
    *NOISE,
]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "photonic_dat.cli.main", *args]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_gives_the_same_result_bit_for_bit(tmp_path):
    cfg = small_config(*KILL_CONFIG)
    (tmp_path / "config.yaml").write_text(dump_config(cfg))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    whole = tmp_path / "whole"
    train_run(cfg, whole)  # the run never stopped, in this process

    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        _cli("train", str(tmp_path / "config.yaml"), "--out", str(cut)), env=env
    )
    store = CheckpointStore(cut / "checkpoints")
    deadline = time.monotonic() + 120
    try:
        while not any(c.epoch >= 1 and c.batch > 0 for c in store.list()):
            assert proc.poll() is None, "training ended before a mid-epoch checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (cut / "result.json").exists(), "killed after the end"
    newest = store.list()[-1]
    assert newest.batch > 0, f"resumes from {newest.name}, which is not mid-epoch"

    resumed = subprocess.run(_cli("train", "--resume", str(cut)), env=env, capture_output=True)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert_same_run(whole, cut)

    # the measurement log, cut by the kill, replays to the same figures
    replay = small_config(*KILL_CONFIG, "system.kind=replay", f"system.replay_from={cut}")
    replayed = train_run(replay, tmp_path / "replay")
    original = json.loads((whole / "result.json").read_text())
    assert {k: replayed[k] for k in FIGURES} == {k: original[k] for k in FIGURES}
