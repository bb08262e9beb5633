"""Run a sweep: every run in its own directory, resumable, failures recorded and retried.

Layout of a sweep directory::

    DIR/spec.yaml          the spec as last run (command-line --set keys included)
    DIR/plan.json          every run: its id, method, kind, preset and overrides
    DIR/runs/<run_id>/     one run directory per run (see training/run.py), plus
        run.json           what the run is (checked when the sweep runs again)
        status.json        every attempt: state, host, pid, seconds, error and traceback
    DIR/slurm/             submitit's job folders and job ids (slurm executor)
    DIR/summary.csv, summary.json, report.md, figures/   (photonic_dat.report.sweep)

Running a sweep again continues it: finished runs (``result.json`` present) are reused, the
others run (again); a run whose training it deploys failed is ``blocked``. Each call gives a
failing run ``retries`` more attempts.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photonic_dat.exceptions import ConfigError, RuntimeFailure
from photonic_dat.experiments.executors import Executor
from photonic_dat.experiments.spec import RunPlan, SweepSpec, dump_spec, expand, select
from photonic_dat.experiments.tasks import RESULT, RunTask, read_status, record_failure
from photonic_dat.io import atomic_write_text

log = logging.getLogger(__name__)

STATES = ("done", "failed", "blocked", "running", "pending")


RUNS = "runs"


def run_dir_of(runs: Path, plan: RunPlan) -> Path:
    """The run directory of ``plan`` under the folder ``runs`` that holds a sweep's runs."""
    return runs / plan.run_id


def _identity(plan: RunPlan) -> dict[str, Any]:
    return {
        "run_id": plan.run_id,
        "kind": plan.kind,
        "preset": plan.preset,
        "overrides": list(plan.overrides),
        "trained": plan.trained,
        "tuned": plan.tuned,
    }


def prepare(runs: Path, plans: Sequence[RunPlan]) -> None:
    """Write each run's ``run.json`` under ``runs``; refuse to reuse a run directory that was
    made for other settings (another preset, other keys)."""
    for plan in plans:
        path = run_dir_of(runs, plan) / "run.json"
        if path.is_file():
            old = json.loads(path.read_text())
            if {k: old.get(k) for k in _identity(plan)} != _identity(plan):
                raise ConfigError(
                    f"{path.parent} was made with other settings than this sweep gives it "
                    f"(was {old.get('overrides')}, now {list(plan.overrides)}); "
                    "use another sweep directory or remove that run"
                )
    for plan in plans:
        path = run_dir_of(runs, plan) / "run.json"
        if not path.is_file():
            atomic_write_text(path, json.dumps(plan.to_json(), indent=2))


def write_sweep(root: Path, plans: Sequence[RunPlan], spec: SweepSpec) -> None:
    """Prepare a sweep directory: its runs, ``plan.json`` and ``spec.yaml``."""
    prepare(root / RUNS, plans)
    atomic_write_text(root / "spec.yaml", dump_spec(spec))
    atomic_write_text(root / "plan.json", json.dumps([p.to_json() for p in plans], indent=2))


def load_plans(root: Path) -> list[RunPlan]:
    path = Path(root) / "plan.json"
    if not path.is_file():
        raise ConfigError(f"{root} is not a sweep directory (no plan.json)")
    return [RunPlan.from_json(p) for p in json.loads(path.read_text())]


def _task(runs: Path, plan: RunPlan, by_id: Mapping[str, RunPlan]) -> RunTask:
    trained = run_dir_of(runs, by_id[plan.trained]) if plan.trained else None
    return RunTask(
        run_dir=str(run_dir_of(runs, plan).resolve()),
        kind=plan.kind,
        preset=plan.preset,
        overrides=plan.overrides,
        trained_dir=str(trained.resolve()) if trained else None,
        tuned=plan.tuned,
    )


def execute_plans(
    runs: Path,
    plans: Sequence[RunPlan],
    executor: Executor,
    retries: int = 1,
    poll_s: float = 1.0,
    timeout_s: float | None = None,
) -> dict[str, str]:
    """Execute every unfinished run of ``plans`` (trainings before the deployments that use
    them) in their directories under ``runs``; returns each run's final state: ``done``,
    ``failed`` or ``blocked``. Past ``timeout_s`` seconds the runs still in flight are
    cancelled and :class:`~photonic_dat.exceptions.RuntimeFailure` is raised."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    by_id = {p.run_id: p for p in plans}
    state = {
        p.run_id: "done" if (run_dir_of(runs, p) / RESULT).is_file() else "pending" for p in plans
    }
    reused = sum(s == "done" for s in state.values())
    if reused:
        log.info("%d of %d runs already finished (reused)", reused, len(plans))
    attach = getattr(executor, "attach", None)
    if attach is not None:
        for run_id in attach({r for r, s in state.items() if s == "pending"}):
            state[run_id] = "running"
    failures: Counter[str] = Counter()
    finished = reused
    try:
        while True:
            ready = {}
            for plan in plans:
                if state[plan.run_id] != "pending":
                    continue
                needs = [state[n] for n in plan.needs]
                if any(s in ("failed", "blocked") for s in needs):
                    state[plan.run_id] = "blocked"
                    log.warning("%s blocked: the run it deploys failed", plan.run_id)
                elif all(s == "done" for s in needs):
                    ready[plan.run_id] = _task(runs, plan, by_id)
            if ready:
                executor.submit(ready)
                state.update(dict.fromkeys(ready, "running"))
            if not executor.in_flight():
                break
            if deadline is not None and time.monotonic() > deadline:
                executor.cancel()
                left = sorted(
                    executor.in_flight() | {r for r, s in state.items() if s == "pending"}
                )
                raise RuntimeFailure(
                    f"the sweep did not finish within {timeout_s:g} s; cancelled or not started: "
                    + ", ".join(left[:5])
                    + (" ..." if len(left) > 5 else "")
                )
            for run_id, outcome in executor.wait(poll_s).items():
                run_dir = run_dir_of(runs, by_id[run_id])
                if outcome.get("lost"):
                    record_failure(run_dir, outcome["error"], outcome.get("detail", ""))
                if outcome["state"] == "done":
                    state[run_id] = "done"
                    finished += 1
                    log.info(
                        "[%d/%d] %s done (%.1f s)",
                        finished,
                        len(plans),
                        run_id,
                        outcome.get("seconds") or 0.0,
                    )
                    continue
                failures[run_id] += 1
                if failures[run_id] <= retries:
                    state[run_id] = "pending"
                    log.warning(
                        "%s failed (%s); retry %d of %d",
                        run_id,
                        outcome["error"],
                        failures[run_id],
                        retries,
                    )
                else:
                    state[run_id] = "failed"
                    finished += 1
                    log.error("%s failed: %s", run_id, outcome["error"])
    except BaseException:
        executor.close(interrupted=True)
        raise
    executor.close()
    return state


@dataclass
class SweepOutcome:
    directory: Path
    states: dict[str, str]
    seconds: float

    def counts(self) -> dict[str, int]:
        counts = Counter(self.states.values())
        return {s: counts[s] for s in STATES if counts[s]}


def run_sweep(
    spec: SweepSpec,
    root: Path,
    executor: Executor,
    retries: int | None = None,
    report: bool = True,
    timeout_s: float | None = None,
    only: Sequence[str] = (),
) -> SweepOutcome:
    """Expand ``spec``, run what is unfinished in ``root`` among the runs ``only`` selects
    (see :func:`~photonic_dat.experiments.spec.select`; all by default) and write the
    report (see :func:`execute_plans` for ``retries`` and ``timeout_s``). ``plan.json``
    always lists the whole sweep, so that status and report cover every run, however many
    parts of it ran."""
    every = expand(spec)
    plans = select(every, only)
    write_sweep(root, every, spec)
    start = time.perf_counter()
    states = execute_plans(
        root / RUNS,
        plans,
        executor,
        spec.executor.retries if retries is None else retries,
        timeout_s=timeout_s,
    )
    seconds = time.perf_counter() - start
    if report:
        from photonic_dat.report.sweep import write_report

        write_report(root)
    return SweepOutcome(root, states, seconds)


# ----------------------------------------------------------------------------- status


def _alive(attempt: Mapping[str, Any]) -> bool | None:
    """Whether the process of a running attempt still lives (``None``: cannot tell here)."""
    if attempt.get("job_id") or attempt.get("host") != socket.gethostname():
        return None
    try:
        os.kill(int(attempt["pid"]), 0)
    except (ProcessLookupError, KeyError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


def run_state(root: Path, plan: RunPlan) -> tuple[str, dict[str, Any]]:
    """State of one run of the sweep in ``root`` as its directory tells it: done, failed,
    running, interrupted, pending."""
    run_dir = run_dir_of(root / RUNS, plan)
    status = read_status(run_dir)
    if (run_dir / RESULT).is_file():
        return "done", status
    state = status.get("state", "pending")
    if state == "running":
        attempts = status.get("attempts") or [{}]
        if _alive(attempts[-1]) is False:
            return "interrupted", status
    return state, status


def sweep_status(root: Path) -> str:
    """A table of the runs' states per method, then failing runs with their last error."""
    plans = load_plans(root)
    rows: dict[str, Counter[str]] = {}
    problems = []
    running = []
    states = {plan.run_id: run_state(root, plan) for plan in plans}
    for plan in plans:
        state, status = states[plan.run_id]
        if state == "pending" and plan.trained and states[plan.trained][0] == "failed":
            state = "blocked"  # the training it deploys failed
        rows.setdefault(plan.method, Counter())[state] += 1
        if state == "failed":
            problems.append((plan.run_id, len(status.get("attempts", [])), status.get("error")))
        elif state == "running":
            last = (status.get("attempts") or [{}])[-1]
            since = time.time() - float(last.get("started", time.time()))
            where = last.get("job_id") and f"job {last['job_id']}" or f"pid {last.get('pid')}"
            running.append(f"  {plan.run_id}: {since:.0f} s on {last.get('host')} ({where})")
    columns = ("done", "failed", "blocked", "running", "interrupted", "pending")
    width = max(len(m) for m in rows) + 2
    lines = [f"{'method':<{width}}" + "".join(f"{c:>12}" for c in columns) + f"{'total':>8}"]
    for method, counts in rows.items():
        cells = "".join(f"{counts[c]:>12}" for c in columns)
        lines.append(f"{method:<{width}}{cells}{sum(counts.values()):>8}")
    total = Counter(s for c in rows.values() for s in c.elements())
    lines.append(
        f"{'all':<{width}}" + "".join(f"{total[c]:>12}" for c in columns) + f"{len(plans):>8}"
    )
    if running:
        lines += ["", "running:", *running]
    if problems:
        lines += ["", "failed (attempts, last error):"]
        lines += [f"  {run_id} ({n}): {error}" for run_id, n, error in problems]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- resolved configs


def train_configs(pairs: Sequence[tuple[Any, str | Path]], workers: int = 2) -> list[dict]:
    """Train (or reuse) each ``(RunConfig, run_dir)`` pair; returns their ``result.json`` in
    order. ``workers`` worker processes of one thread each (1: in this process). A failing
    run raises, after the others have finished, naming every failure."""
    from photonic_dat.config.loading import dump_config
    from photonic_dat.experiments.executors import InlineExecutor, LocalExecutor

    dirs = [Path(run_dir).resolve() for _, run_dir in pairs]
    if not dirs:
        return []
    root = Path(os.path.commonpath([d.parent for d in dirs]))
    plans = []
    for (config, _), run_dir in zip(pairs, dirs, strict=True):
        path = run_dir / "config.yaml"  # the run's configuration, as train_run writes it
        if not (run_dir / RESULT).is_file():
            atomic_write_text(path, dump_config(config))
        plans.append(
            RunPlan(
                run_id=str(run_dir.relative_to(root)),
                method=config.method,
                kind="train",
                preset=str(path),
                overrides=(),
            )  # fmt: skip
        )
    executor = InlineExecutor() if workers <= 1 else LocalExecutor(workers)
    states = execute_plans(root, plans, executor, retries=0)
    failed = [p.run_id for p in plans if states[p.run_id] != "done"]
    if failed:
        errors = "; ".join(f"{r}: {read_status(root / r).get('error')}" for r in failed)
        raise RuntimeFailure(f"{len(failed)} of {len(plans)} runs failed: {errors}")
    return [json.loads((d / RESULT).read_text()) for d in dirs]
