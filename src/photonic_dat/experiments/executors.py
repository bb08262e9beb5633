"""Where the runs of a sweep execute: this process, local worker processes, or Slurm.

Every executor takes :class:`~photonic_dat.experiments.tasks.RunTask` objects and hands back
outcomes (``{"state": "done" | "failed", "error", "seconds"}``) as runs finish; the sweep
(:mod:`photonic_dat.experiments.sweep`) decides what to submit, retries and records.

* ``inline`` - one run after another in this process (for debugging).
* ``local`` - a pool of worker processes, one thread each by default (several small trainings
  side by side use a multi-core CPU better than one multi-threaded training). A worker that
  dies (killed, out of memory) fails only the runs it held; the pool is rebuilt.
* ``slurm`` - one Slurm job per run through submitit, submitted as job arrays; jobs left
  running when the sweep process stops are re-attached by the next ``sweep`` call.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import logging
import multiprocessing
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from photonic_dat.exceptions import ConfigError
from photonic_dat.experiments.tasks import RunTask, execute_task

log = logging.getLogger(__name__)

EXECUTORS = ("local", "slurm", "inline")

Outcome = dict[str, Any]


class Executor(Protocol):
    """What the sweep needs from an executor."""

    #: how many runs execute at once (the report's overhead figures use it)
    slots: int

    def submit(self, tasks: Mapping[str, RunTask]) -> None:
        """Start the runs ``{run_id: task}``."""

    def wait(self, timeout: float) -> dict[str, Outcome]:
        """Outcomes of runs that finished within ``timeout`` seconds (maybe none)."""

    def in_flight(self) -> set[str]:
        """Run ids submitted and not yet returned by :meth:`wait`."""

    def cancel(self) -> None:
        """Stop every run in flight now (the sweep gives up on them)."""

    def close(self, interrupted: bool = False) -> None:
        """Release resources; ``interrupted``: the sweep stops before its runs finished."""


# ----------------------------------------------------------------------------- inline


class InlineExecutor:
    """Runs each task in this process when :meth:`wait` is called."""

    slots = 1

    def __init__(self) -> None:
        self._queue: dict[str, RunTask] = {}

    def submit(self, tasks: Mapping[str, RunTask]) -> None:
        self._queue.update(tasks)

    def wait(self, timeout: float) -> dict[str, Outcome]:
        if not self._queue:
            return {}
        run_id = next(iter(self._queue))
        return {run_id: execute_task(self._queue.pop(run_id))}

    def in_flight(self) -> set[str]:
        return set(self._queue)

    def cancel(self) -> None:
        self._queue.clear()

    def close(self, interrupted: bool = False) -> None:
        self._queue.clear()


# ----------------------------------------------------------------------------- local


def _die_with_parent() -> None:
    """Ask Linux to end this worker when the sweep process dies (no orphaned trainings
    writing into run directories that a restarted sweep runs again)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _init_worker(threads: int | None) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the sweep's to handle
    if threads:
        import torch

        torch.set_num_threads(threads)


class LocalExecutor:
    """A pool of ``jobs`` worker processes (spawned: a fresh interpreter each)."""

    def __init__(self, jobs: int = 2, threads: int | None = 1) -> None:
        if jobs < 1:
            raise ConfigError(f"--jobs must be at least 1, got {jobs}")
        self.slots = jobs
        self._threads = threads
        self._futures: dict[cf.Future, str] = {}
        self._pool: cf.ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.slots,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self._threads,),
            )
        return self._pool

    def submit(self, tasks: Mapping[str, RunTask]) -> None:
        pool = self._ensure_pool()
        for run_id, task in tasks.items():
            task = RunTask(**{**task.__dict__, "threads": self._threads})
            self._futures[pool.submit(execute_task, task)] = run_id

    def wait(self, timeout: float) -> dict[str, Outcome]:
        if not self._futures:
            return {}
        done, _ = cf.wait(self._futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        outcomes: dict[str, Outcome] = {}
        broken = False
        for future in done:
            run_id = self._futures.pop(future)
            try:
                outcomes[run_id] = future.result()
            except cf.process.BrokenProcessPool:
                broken = True
                outcomes[run_id] = _lost("its worker process died (killed or out of memory)")
            except Exception as exc:  # pickling problems and the like: the run did not start
                outcomes[run_id] = _lost(f"{type(exc).__name__}: {exc}")
        if broken:  # every run the dead pool held is lost; a new pool takes the next ones
            for future, run_id in list(self._futures.items()):
                outcomes[run_id] = _lost("its worker pool broke (another worker died)")
                del self._futures[future]
            self._shutdown(kill=True)
        return outcomes

    def in_flight(self) -> set[str]:
        return set(self._futures.values())

    def _shutdown(self, kill: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if kill:
            for process in list(getattr(pool, "_processes", {}).values()):
                if process.is_alive():
                    process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)

    def cancel(self) -> None:
        self._futures.clear()
        self._shutdown(kill=True)

    def close(self, interrupted: bool = False) -> None:
        self._futures.clear()
        self._shutdown(kill=interrupted)


def _lost(reason: str) -> Outcome:
    return {"state": "failed", "error": reason, "seconds": None, "lost": True}


# ----------------------------------------------------------------------------- slurm


@dataclass(frozen=True)
class SlurmOptions:
    """What each run's Slurm job asks for."""

    partition: str | None = None
    time_min: int = 60
    cpus_per_run: int = 1
    gpus_per_run: int = 0
    array_parallelism: int = 64
    mem_gb: float | None = None
    #: how often a job with no result yet is checked with ``sacct`` (seconds)
    check_every_s: float = 10.0


class SlurmExecutor:
    """One Slurm job per run, submitted with submitit as job arrays.

    Job ids are kept in ``folder/jobs.json`` so that a later sweep process re-attaches to jobs
    that are still queued or running instead of submitting them again.
    """

    def __init__(self, folder: Path, options: SlurmOptions) -> None:
        try:
            import submitit
        except ImportError:
            raise ConfigError(
                "the slurm executor needs submitit: pip install 'photonic-dat[slurm]'"
            ) from None
        self._submitit = submitit
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.options = options
        self.slots = options.array_parallelism
        self._executor = submitit.AutoExecutor(folder=self.folder / "%j", cluster="slurm")
        params: dict[str, Any] = {
            "timeout_min": options.time_min,
            "cpus_per_task": options.cpus_per_run,
            "slurm_array_parallelism": options.array_parallelism,
            "name": "photonic-dat",
        }
        if options.partition:
            params["slurm_partition"] = options.partition
        if options.gpus_per_run:
            params["gpus_per_node"] = options.gpus_per_run
        if options.mem_gb:
            params["mem_gb"] = options.mem_gb
        self._executor.update_parameters(**params)
        self._jobs: dict[str, Any] = {}
        self._last_check = 0.0

    # job ids on disk, for re-attaching
    def _ids_path(self) -> Path:
        return self.folder / "jobs.json"

    def _save_ids(self, new: Mapping[str, str]) -> None:
        import json

        from photonic_dat.io import atomic_write_text

        try:
            ids = json.loads(self._ids_path().read_text())
        except (FileNotFoundError, ValueError):
            ids = {}
        ids.update(new)
        atomic_write_text(self._ids_path(), json.dumps(ids, indent=2, sort_keys=True))

    def attach(self, run_ids: set[str]) -> set[str]:
        """Re-attach to earlier jobs of ``run_ids`` that Slurm still holds; returns those."""
        import json

        try:
            ids = json.loads(self._ids_path().read_text())
        except (FileNotFoundError, ValueError):
            return set()
        attached = set()
        for run_id in run_ids & set(ids):
            job = self._submitit.SlurmJob(folder=self.folder / "%j", job_id=ids[run_id])
            if not job.done(force_check=True):
                self._jobs[run_id] = job
                attached.add(run_id)
        if attached:
            log.info("re-attached to %d Slurm jobs still queued or running", len(attached))
        return attached

    def submit(self, tasks: Mapping[str, RunTask]) -> None:
        if not tasks:
            return
        cpus = self.options.cpus_per_run
        jobs = []
        with self._executor.batch():
            for task in tasks.values():
                task = RunTask(**{**task.__dict__, "threads": cpus})
                jobs.append(self._executor.submit(execute_task, task))
        new = {}
        for run_id, job in zip(tasks, jobs, strict=True):
            self._jobs[run_id] = job
            new[run_id] = job.job_id
        self._save_ids(new)
        log.info("submitted %d Slurm jobs (array %s)", len(jobs), jobs[0].job_id.split("_")[0])

    def wait(self, timeout: float) -> dict[str, Outcome]:
        deadline = time.monotonic() + timeout
        while True:
            force = time.monotonic() - self._last_check >= self.options.check_every_s
            if force:
                self._last_check = time.monotonic()
            finished = [
                run_id
                for i, (run_id, job) in enumerate(self._jobs.items())
                if job.done(force_check=force and i == 0)  # one sacct call updates all jobs
            ]
            if finished or not self._jobs or time.monotonic() >= deadline:
                return {run_id: self._outcome(self._jobs.pop(run_id)) for run_id in finished}
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def _outcome(self, job) -> Outcome:
        utils = self._submitit.core.utils
        try:
            return job.result()
        except (utils.FailedJobError, utils.UncompletedJobError) as exc:
            state = job.state
            text = str(exc).strip().splitlines()
            return {**_lost(f"Slurm job {job.job_id} ended {state}"), "detail": "\n".join(text)}

    def in_flight(self) -> set[str]:
        return set(self._jobs)

    def cancel(self) -> None:
        for job in self._jobs.values():
            job.cancel(check=False)
        self._jobs.clear()

    def close(self, interrupted: bool = False) -> None:
        if interrupted and self._jobs:
            log.warning(
                "%d Slurm jobs left queued or running; the next sweep call re-attaches to "
                "them (scancel them to stop them)",
                len(self._jobs),
            )
        self._jobs.clear()


def make_executor(kind: str, sweep_dir: Path, jobs: int, slurm: SlurmOptions) -> Executor:
    if kind == "inline":
        return InlineExecutor()
    if kind == "local":
        return LocalExecutor(jobs)
    if kind == "slurm":
        return SlurmExecutor(sweep_dir / "slurm", slurm)
    raise ConfigError(f"--executor: unknown executor {kind!r}; choose from {', '.join(EXECUTORS)}")


__all__ = [
    "EXECUTORS",
    "Executor",
    "InlineExecutor",
    "LocalExecutor",
    "SlurmExecutor",
    "SlurmOptions",
    "make_executor",
]
