"""One writer at a time in a run directory: a second trainer is refused, a sweep task waits
and reuses the first one's result, and a killed holder leaves no stale lock."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from photonic_dat.exceptions import RunInUseError
from photonic_dat.experiments.tasks import RESULT, RunTask, execute_task
from photonic_dat.training.run import train_run
from photonic_dat.training.run_lock import run_lock
from tests.helpers import small_config

# another process takes the lock, says so, optionally writes a result, then waits or exits
HOLDER = """
import sys, time, json
from pathlib import Path
from photonic_dat.training.run_lock import run_lock
run_dir, hold_s, result = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
with run_lock(run_dir, wait=False):
    print("locked", flush=True)
    time.sleep(hold_s)
    if result:
        (run_dir / "result.json").write_text(result)
"""


def _holder(run_dir, hold_s: float, result: str = ""):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_dir), str(hold_s), result],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_trainer_is_refused_naming_the_holder_and_a_kill_frees_the_lock(tmp_path):
    run_dir = tmp_path / "run"
    proc = _holder(run_dir, 60)
    try:
        with pytest.raises(RunInUseError, match=f"pid {proc.pid}"):
            train_run(small_config(), run_dir)
        assert not (run_dir / "config.yaml").exists()  # nothing was written
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with run_lock(run_dir, wait=False):  # the kernel released the dead holder's lock
        pass


def test_a_sweep_task_waits_for_the_other_writer_and_reuses_its_result(tmp_path):
    run_dir = tmp_path / "run"
    result = json.dumps({"test_accuracy_physical": 0.5})
    proc = _holder(run_dir, 1.0, result)
    start = time.perf_counter()
    outcome = execute_task(RunTask(str(run_dir), "train", None, ()))
    proc.wait()
    assert outcome["state"] == "done" and outcome.get("reused")
    assert time.perf_counter() - start > 0.5  # it waited instead of training beside it
    assert json.loads((run_dir / RESULT).read_text()) == {"test_accuracy_physical": 0.5}
    assert not (run_dir / "status.json").exists()  # no attempt of its own was recorded


def test_the_holder_may_re_enter_its_own_lock(tmp_path):
    with run_lock(tmp_path / "run", wait=False), run_lock(tmp_path / "run", wait=False):
        pass
