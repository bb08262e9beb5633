"""One run of a sweep, executed where an executor puts it (a worker process, a Slurm job).

:func:`execute_task` is what every executor calls: it trains (or deploys) one run into its run
directory and keeps a record of every attempt in ``RUN_DIR/status.json``. It never raises for a
failing run: the error and the end of its traceback come back in the outcome and stay in the
status file, so one bad run never costs the others their results. It must stay importable from
the installed package (a Slurm job unpickles it in a fresh interpreter).
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photonic_dat.exceptions import UsageError
from photonic_dat.io import atomic_write_text
from photonic_dat.training.run_lock import run_lock

STATUS = "status.json"
RESULT = "result.json"
#: how much of a failing run's traceback is kept (characters)
TRACEBACK_CHARS = 4000


@dataclass(frozen=True)
class RunTask:
    """What a worker needs to execute one run (picklable, paths absolute)."""

    run_dir: str
    kind: str  # "train" | "deploy"
    preset: str | None
    overrides: tuple[str, ...]
    trained_dir: str | None = None
    threads: int | None = 1
    tuned: str | None = None


def read_status(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / STATUS
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"state": "pending", "attempts": []}


def write_status(run_dir: Path, status: dict[str, Any]) -> None:
    atomic_write_text(Path(run_dir) / STATUS, json.dumps(status, indent=2))


def record_failure(run_dir: Path, error: str, detail: str = "") -> None:
    """Record that the latest attempt ended without its worker saying so (a killed job or
    worker process): the executor's message becomes the attempt's error."""
    status = read_status(run_dir)
    attempts = status.get("attempts", [])
    if attempts and attempts[-1].get("state") == "running":
        attempts[-1].update(state="failed", error=error, traceback=detail[-TRACEBACK_CHARS:])
    else:
        attempts.append({"state": "failed", "error": error, "traceback": detail[-TRACEBACK_CHARS:]})
    write_status(run_dir, {**status, "state": "failed", "error": error, "attempts": attempts})


def with_tuned(config, name: str):
    """``config`` with the overrides ``photonic-dat tune`` chose for ``name`` (its ``tuned:``
    section), the run's own keys otherwise unchanged."""
    from photonic_dat.config.loading import apply_overrides, build_config

    chosen = config.tuned[name]
    sets = [f"{key}={json.dumps(value)}" for key, value in chosen.items()]
    return build_config(apply_overrides(config.model_dump(mode="json"), sets))


def _slurm_job_id() -> str | None:
    """This process's Slurm job as submitit names it (``ARRAY_TASK`` for an array task)."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID")


def train_or_resume(config, run_dir: Path) -> dict[str, Any]:
    """Train one run; the single place that decides how a killed run continues.

    A run killed midway left a partial run directory: training continues from its newest
    checkpoint that verifies (every epoch, or every ``train.checkpoint_every`` batches), or
    starts when there is none; the result is the one an uninterrupted run gives.
    """
    from photonic_dat.training.run import train_run

    return train_run(config, run_dir, resume=True)


def _deploy(task: RunTask, config, run_dir: Path) -> dict[str, Any]:
    from photonic_dat.config.loading import dump_config
    from photonic_dat.training.run import deploy_run

    if task.trained_dir is None or not (Path(task.trained_dir) / RESULT).is_file():
        raise FileNotFoundError(f"the trained run {task.trained_dir} has not finished")
    atomic_write_text(run_dir / "config.yaml", dump_config(config))
    figures = deploy_run(Path(task.trained_dir), config)
    result = {
        **figures,
        "method": config.method,
        "model": config.model,
        "dataset": config.data.name,
        "errors": config.errors.model_dump(mode="json"),
        "trained_run": os.path.relpath(task.trained_dir, run_dir),
    }
    atomic_write_text(run_dir / RESULT, json.dumps(result, indent=2))
    return result


def _run(task: RunTask, run_dir: Path) -> dict[str, Any]:
    if task.threads:
        import torch

        torch.set_num_threads(task.threads)
    from photonic_dat.config.loading import load_config

    config = load_config(task.preset, [*task.overrides, "train.progress=false"])
    if task.tuned and config.tuned.get(task.tuned):
        config = with_tuned(config, task.tuned)
    if task.kind == "deploy":
        return _deploy(task, config, run_dir)
    return train_or_resume(config, run_dir)


def execute_task(task: RunTask) -> dict[str, Any]:
    """Execute one run; returns ``{"state": "done" | "failed", "error", "seconds"}``.

    A run whose directory already holds ``result.json`` is not run again.
    """
    run_dir = Path(task.run_dir)
    if (run_dir / RESULT).is_file():
        return {"state": "done", "error": None, "seconds": 0.0, "reused": True}
    # another sweep writing this run (the same --out twice): wait for it, then reuse its result
    with run_lock(run_dir, wait=True):
        if (run_dir / RESULT).is_file():
            return {"state": "done", "error": None, "seconds": 0.0, "reused": True}
        return _attempt(task, run_dir)


def _attempt(task: RunTask, run_dir: Path) -> dict[str, Any]:
    status = read_status(run_dir)
    attempts = status.get("attempts", [])
    attempt = {
        "state": "running",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "job_id": _slurm_job_id(),
        "started": time.time(),
    }
    attempts.append(attempt)
    write_status(run_dir, {"state": "running", "attempts": attempts})
    start = time.perf_counter()
    try:
        _run(task, run_dir)
    except Exception as exc:  # a failing run is recorded, never raised to the executor
        seconds = time.perf_counter() - start
        error = f"{type(exc).__name__}: {exc}"
        usage = isinstance(exc, UsageError)  # the settings are wrong: a retry cannot help
        attempt.update(
            state="failed",
            error=error,
            traceback=traceback.format_exc()[-TRACEBACK_CHARS:],
            seconds=seconds,
        )
        status = {"state": "failed", "error": error, "usage": usage, "attempts": attempts}
        write_status(run_dir, status)
        return {"state": "failed", "error": error, "seconds": seconds, "usage": usage}
    seconds = time.perf_counter() - start
    attempt.update(state="done", seconds=seconds)
    write_status(run_dir, {"state": "done", "attempts": attempts})
    return {"state": "done", "error": None, "seconds": seconds}
