import json
import os
import signal
import subprocess
import sys
import time

import pytest

from photonic_dat.exceptions import ConfigError
from photonic_dat.experiments import tasks
from photonic_dat.experiments.executors import InlineExecutor, LocalExecutor
from photonic_dat.experiments.spec import expand, parse_spec
from photonic_dat.experiments.sweep import RUNS, run_sweep, sweep_status
from tests.experiments.conftest import tiny_spec

#: what differs between two executions of the same run (times, attempts)
VOLATILE = ("train_seconds", "attempts")


def _rows(root):
    rows = json.loads((root / "summary.json").read_text())
    return {r["run_id"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in rows}


def test_sweep_runs_every_run_once_then_reuses_them(tmp_path):
    spec = parse_spec(tiny_spec())
    outcome = run_sweep(spec, tmp_path / "sw", InlineExecutor())
    plans = expand(spec)
    assert set(outcome.states.values()) == {"done"} and len(outcome.states) == len(plans) == 7
    rows = _rows(tmp_path / "sw")
    trained = rows["dd.trained/bs_std=0,ps_std=0,seed=0"]
    for row in rows.values():
        assert row["state"] == "done" and 0 <= row["test_accuracy_physical"] <= 1
        if row["method"] == "dd":  # the one in-silico model, measured on each cell's device
            assert row["kind"] == "deploy" and row["trained"] == trained["run_id"]
            assert row["test_accuracy_twin"] == pytest.approx(trained["test_accuracy_twin"])
        if row["method"] == "pat":
            assert row["physical_frames"] > 0 and row["frames.output"] > 0
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "sw" / RUNS).rglob("result.json")}
    again = run_sweep(spec, tmp_path / "sw", InlineExecutor())
    assert set(again.states.values()) == {"done"}
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing ran again
    assert _rows(tmp_path / "sw") == rows
    report = (tmp_path / "sw" / "report.md").read_text()
    assert "| errors.bs_std | errors.ps_std | dd | pat |" in report
    assert (tmp_path / "sw" / "figures" / "accuracy_vs_error.png").is_file()


def test_a_failing_run_is_recorded_retried_and_costs_the_others_nothing(tmp_path, monkeypatch):
    real = tasks._run
    calls: dict[str, int] = {}

    def flaky(task, run_dir):
        name = str(run_dir.relative_to(tmp_path / "sw" / RUNS))
        calls[name] = calls.get(name, 0) + 1
        if name == "pat/bs_std=0.05,ps_std=0.05,seed=0" and calls[name] == 1:
            raise RuntimeError("detector timed out")  # transient: the retry succeeds
        if name == "pat/bs_std=0.05,ps_std=0.05,seed=1":
            raise RuntimeError("device on fire")  # every attempt fails
        return real(task, run_dir)

    monkeypatch.setattr(tasks, "_run", flaky)
    outcome = run_sweep(parse_spec(tiny_spec()), tmp_path / "sw", InlineExecutor(), retries=2)
    assert outcome.states["pat/bs_std=0.05,ps_std=0.05,seed=0"] == "done"
    assert outcome.states["pat/bs_std=0.05,ps_std=0.05,seed=1"] == "failed"
    assert sum(s == "done" for s in outcome.states.values()) == 6
    assert calls["pat/bs_std=0.05,ps_std=0.05,seed=1"] == 3  # one attempt and two retries
    status = tasks.read_status(tmp_path / "sw" / RUNS / "pat/bs_std=0.05,ps_std=0.05,seed=1")
    assert [a["state"] for a in status["attempts"]] == ["failed"] * 3
    assert "device on fire" in status["attempts"][-1]["traceback"]
    rows = _rows(tmp_path / "sw")
    bad = rows["pat/bs_std=0.05,ps_std=0.05,seed=1"]
    assert bad["state"] == "failed" and "device on fire" in bad["error"]
    assert bad["test_accuracy_physical"] is None
    assert (
        "pat/bs_std=0.05,ps_std=0.05,seed=1` (3 attempts): RuntimeError: device on fire"
        in (tmp_path / "sw" / "report.md").read_text()
    )
    text = sweep_status(tmp_path / "sw")
    assert "device on fire" in text and "pat" in text


def test_deployments_of_a_failed_training_are_blocked(tmp_path, monkeypatch):
    real = tasks._run

    def broken_training(task, run_dir):
        if "dd.trained" in str(run_dir):
            raise RuntimeError("no model")
        return real(task, run_dir)

    monkeypatch.setattr(tasks, "_run", broken_training)
    outcome = run_sweep(parse_spec(tiny_spec()), tmp_path / "sw", InlineExecutor(), retries=0)
    states = outcome.states
    assert [s for r, s in states.items() if r.startswith("dd/")] == ["blocked"] * 4
    assert states["dd.trained/bs_std=0,ps_std=0,seed=0"] == "failed"
    assert [s for r, s in states.items() if r.startswith("pat/")] == ["done"] * 2
    rows = _rows(tmp_path / "sw")
    assert [r["state"] for r in rows.values() if r["method"] == "dd"] == ["blocked"] * 4
    table = sweep_status(tmp_path / "sw").splitlines()
    assert table[0].split() == ["method", "done", "failed", "blocked", "running",
                                "interrupted", "pending", "total"]  # fmt: skip
    assert next(r for r in table if r.startswith("dd ")).split()[1:] == [
        "0",
        "0",
        "4",
        "0",
        "0",
        "0",
        "4",
    ]


def test_a_run_directory_made_for_other_settings_is_not_reused(tmp_path):
    spec = parse_spec(tiny_spec(methods=["pat"], exclude=[]))
    run_sweep(spec, tmp_path / "sw", InlineExecutor(), report=False)
    changed = parse_spec(tiny_spec(methods=["pat"], exclude=[], set={"train.epochs": 2}))
    with pytest.raises(ConfigError, match="other settings"):
        run_sweep(changed, tmp_path / "sw", InlineExecutor())


def test_worker_processes_run_side_by_side_and_survive_a_failing_run(tmp_path):
    spec = tiny_spec(
        methods=["pat"],
        exclude=[],
        seeds=[0],
        grid={"data.name": ["digits", "mnist"]},
        set={**tiny_spec()["set"], "data.root": str(tmp_path / "no-data")},
    )
    outcome = run_sweep(parse_spec(spec), tmp_path / "sw", LocalExecutor(jobs=2), retries=1)
    states = outcome.states
    assert [s for r, s in states.items() if "name=digits" in r] == ["done"] * 2
    assert [s for r, s in states.items() if "name=mnist" in r] == ["failed"] * 2
    status = tasks.read_status(tmp_path / "sw" / RUNS / "pat/name=mnist,bs_std=0,ps_std=0,seed=0")
    assert len(status["attempts"]) == 2 and status["usage"] is True
    assert "DataError" in status["error"]
    pids = {
        tasks.read_status(p.parent)["attempts"][-1]["pid"]
        for p in (tmp_path / "sw").rglob("run.json")
    }
    assert os.getpid() not in pids  # the runs ran in worker processes


@pytest.mark.slow
def test_a_sweep_killed_midway_finishes_with_the_summary_of_an_uninterrupted_one(
    tmp_path, write_spec
):
    path = write_spec(tiny_spec(set={**tiny_spec()["set"], "train.epochs": 2}))
    whole = tmp_path / "whole"
    run_sweep(parse_spec(tiny_spec(set={**tiny_spec()["set"], "train.epochs": 2})), whole,
              InlineExecutor())  # fmt: skip
    cut = tmp_path / "cut"
    command = [sys.executable, "-m", "photonic_dat.cli.main", "sweep", str(path), "--out",
               str(cut), "--jobs", "1"]  # fmt: skip
    proc = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    try:
        while len(list(cut.rglob("result.json"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the sweep did not finish two runs in 120 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker, mid-run
        proc.wait()
    finished = len(list(cut.rglob("result.json")))
    assert 2 <= finished < 7
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{finished} of 7 runs already finished" in again.stderr
    assert _rows(cut) == _rows(whole)


def test_a_part_run_with_only_leaves_the_whole_sweep_in_its_plan_and_report(tmp_path):
    spec = parse_spec(tiny_spec())
    root = tmp_path / "sw"
    part = run_sweep(spec, root, InlineExecutor(), only=["method=dd"])
    assert {r.split("/")[0] for r in part.states} == {"dd", "dd.trained"}  # pat did not run
    plan = json.loads((root / "plan.json").read_text())
    assert len(plan) == len(expand(spec)) == 7  # the whole sweep, not the part
    assert "pending" in sweep_status(root)
    assert "7 runs: 5 done" in (root / "report.md").read_text()
    rest = run_sweep(spec, root, InlineExecutor())
    assert rest.counts() == {"done": 7}
    assert "7 runs: 7 done" in (root / "report.md").read_text()


def test_a_killed_run_is_reported_as_interrupted_not_as_failed(tmp_path):
    spec = parse_spec(tiny_spec())
    root = tmp_path / "sw"
    run_sweep(spec, root, InlineExecutor(), only=["method=dd"])
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    killed = next(p for p in expand(spec) if p.method == "pat")
    tasks.write_status(
        root / RUNS / killed.run_id,
        {"state": "running", "attempts": [{"state": "running", "host": os.uname().nodename,
                                           "pid": int(dead.stdout), "job_id": None}]},
    )  # fmt: skip
    from photonic_dat.report.sweep import write_report

    write_report(root)
    report = (root / "report.md").read_text()
    assert "## Failed runs" not in report
    assert "## Interrupted runs" in report and f"- `{killed.run_id}`" in report
