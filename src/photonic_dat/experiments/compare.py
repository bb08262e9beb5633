"""Several methods on the same data and the same hidden device, trained side by side.

Each method is one run of a small sweep on the local executor: worker processes with one
thread each (on two cores, two small trainings side by side finish sooner than one after the
other with two threads each). Results do not depend on the number of workers: every random
stream is seeded.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from photonic_dat.config.loading import dump_config
from photonic_dat.config.schema import RunConfig
from photonic_dat.exceptions import ConfigError, RuntimeFailure
from photonic_dat.experiments.executors import LocalExecutor
from photonic_dat.experiments.spec import RunPlan
from photonic_dat.experiments.sweep import execute_plans, prepare, run_dir_of
from photonic_dat.experiments.tasks import read_status
from photonic_dat.io import atomic_write_text
from photonic_dat.report.tables import write_summary

logger = logging.getLogger(__name__)

#: method specs: a method, a DAT mode, or ``+cal`` for a run that starts from a calibrated twin
METHOD_SPECS = (
    "insilico",
    "calibration",
    "pat",
    "dat",
    "dat-none",
    "dat-unitary",
    "dat-separable",
)


def _split_spec(spec: str) -> tuple[str, bool]:
    base, plus, suffix = spec.partition("+")
    if plus and suffix != "cal":
        raise ConfigError(f"unknown method suffix in {spec!r}; only '+cal' is known")
    return base, bool(plus)


#: rough cost of a method's run relative to in-silico training (step times at batch 32,
#: benchmarks/step_time.py): the longest runs start first, so the workers end together
RELATIVE_COST = {"insilico": 1.0, "calibration": 1.2, "pat": 1.4, "dat": 4.0}


def parse_methods(text: str) -> list[str]:
    specs = [s.strip() for s in text.split(",") if s.strip()]
    if not specs:
        raise ConfigError("--methods is empty")
    bad = [s for s in specs if _split_spec(s)[0] not in METHOD_SPECS]
    if bad:
        raise ConfigError(
            f"unknown method(s) {bad}; choose from {', '.join(METHOD_SPECS)} "
            "(append +cal to pat or dat* to start from a calibrated twin)"
        )
    for spec in specs:
        base, cal = _split_spec(spec)
        if cal and base in ("insilico", "calibration"):
            raise ConfigError(f"{spec}: +cal applies to pat and dat only")
    return specs


def config_for(base: RunConfig, spec: str) -> RunConfig:
    cfg = base.model_copy(deep=True)
    name, calibrated = _split_spec(spec)
    method, _, mode = name.partition("-")
    cfg.method = method
    if mode:
        cfg.dat.internal_states = mode
    if calibrated:
        cfg.calibration.enabled = True
    return cfg


def label_for(cfg: RunConfig) -> str:
    if cfg.method == "dat":
        label = f"dat ({cfg.dat.internal_states})"
    else:
        label = {"insilico": "insilico (DD)"}.get(cfg.method, cfg.method)
    return label + (" from calibrated twin" if cfg.calibration.enabled else "")


def _method_of(spec: str) -> str:
    return _split_spec(spec)[0].partition("-")[0]


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def compare_methods(
    base: RunConfig,
    specs: list[str],
    out_dir: Path,
    jobs: int | None = None,
    echo: Callable[[str], Any] = logger.info,
) -> list[dict[str, Any]]:
    """Train every method of ``specs`` on ``base`` (with what ``tune`` chose for it, see
    :func:`~photonic_dat.experiments.tuning.apply_tuned`) into ``out_dir/<spec>``, ``jobs``
    at a time (default: one per CPU, at most one per method); returns the summary rows.
    Runs already finished there are reused and an interrupted one continues from its last
    checkpoint (same configuration required)."""
    from photonic_dat.experiments.tuning import apply_tuned

    out_dir = Path(out_dir)
    config_path = out_dir / "config.yaml"
    text = dump_config(base)
    if config_path.is_file() and config_path.read_text() != text:
        from photonic_dat.config.loading import load_config
        from photonic_dat.training.run import config_differences

        changed = config_differences(load_config(config_path), base)
        if changed:  # keys a resume may change (where the data are, display) are free
            raise ConfigError(
                f"{out_dir} holds a comparison of another configuration ({'; '.join(changed)}); "
                "continue it with the same arguments or use another --out"
            )
    atomic_write_text(config_path, text)
    plans = []
    for spec in specs:
        cfg = apply_tuned(base, spec)
        path = out_dir / "configs" / f"{spec}.yaml"  # each method's resolved configuration
        atomic_write_text(path, dump_config(cfg))
        plans.append(
            RunPlan(
                run_id=spec,
                method=spec,
                kind="train",
                preset=str(path.resolve()),
                overrides=(),
                label=label_for(cfg),
            )
        )
    jobs = jobs or min(len(plans), _cpus())
    threads = base.train.threads or max(1, _cpus() // jobs)
    echo(f"training {', '.join(specs)} in {jobs} worker process(es) -> {out_dir}")
    prepare(out_dir, plans)
    longest_first = sorted(plans, key=lambda p: -RELATIVE_COST.get(_method_of(p.run_id), 1.0))
    states = execute_plans(out_dir, longest_first, LocalExecutor(jobs, threads), retries=0)
    failed = {
        p.run_id: read_status(run_dir_of(out_dir, p)) for p in plans if states[p.run_id] != "done"
    }
    if failed:
        lines = "; ".join(f"{run_id}: {s.get('error')}" for run_id, s in failed.items())
        usage = all(s.get("usage") for s in failed.values())
        raise (ConfigError if usage else RuntimeFailure)(f"training failed for {lines}")
    rows = []
    for plan in plans:
        run_dir = run_dir_of(out_dir, plan)
        result = json.loads((run_dir / "result.json").read_text())
        rows.append({**result, "label": plan.label, "run_dir": str(run_dir)})
    write_summary(rows, out_dir)
    return rows
