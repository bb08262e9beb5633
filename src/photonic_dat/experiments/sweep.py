"""Run many trainings (a sweep) in worker processes, resumably.

Each job is a preset plus ``--set`` overrides and a run directory; a run directory that already
holds ``result.json`` is reused, so an interrupted sweep continues where it stopped. Workers
use one thread each (several small trainings in parallel use a multi-core CPU better than one
multi-threaded training).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Job:
    preset: str
    overrides: tuple[str, ...]
    run_dir: str


def _load(job: Job):
    import torch

    torch.set_num_threads(1)
    from photonic_dat.config.loading import load_config

    return load_config(job.preset, [*job.overrides, "train.progress=false"])


def train_job(job: Job) -> dict[str, Any]:
    """Train (or reuse) one run; returns its ``result.json``."""
    path = Path(job.run_dir)
    if (path / "result.json").is_file():
        return json.loads((path / "result.json").read_text())
    from photonic_dat.training.run import train_run

    return train_run(_load(job), path)


def train_config(pair: tuple[Any, str | Path]) -> dict[str, Any]:
    """Train (or reuse) one run given its resolved :class:`RunConfig` and run directory."""
    config, run_dir = pair
    path = Path(run_dir)
    if (path / "result.json").is_file():
        return json.loads((path / "result.json").read_text())
    import torch

    torch.set_num_threads(1)
    from photonic_dat.training.run import train_run

    return train_run(config, path)


def train_configs(pairs: Sequence[tuple[Any, str | Path]], workers: int = 2) -> list[dict]:
    """:func:`train_config` for every pair, in ``workers`` processes of one thread each."""
    if workers <= 1:
        return [train_config(p) for p in pairs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(train_config, pairs))


def deploy_job(job: Job, trained_dir: str) -> dict[str, Any]:
    """Deploy the PNN trained in ``trained_dir`` on the device that ``job`` configures.

    With a ``job.run_dir`` the figures are kept there as ``result.json`` (written atomically)
    and reused by a later call, like a training run's.
    """
    path = Path(job.run_dir) / "result.json" if job.run_dir else None
    if path is not None and path.is_file():
        return json.loads(path.read_text())
    from photonic_dat.io import atomic_write_text
    from photonic_dat.training.run import deploy_run

    result = deploy_run(Path(trained_dir), _load(job))
    result = {**result, "trained_run": str(trained_dir), "overrides": list(job.overrides)}
    if path is not None:
        atomic_write_text(path, json.dumps(result, indent=2))
    return result


def _deploy(args: tuple[Job, str]) -> dict[str, Any]:
    return deploy_job(*args)


def run_jobs(jobs: Sequence[Job], workers: int = 2) -> list[dict[str, Any]]:
    if workers <= 1:
        return [train_job(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(train_job, jobs))


def deploy_jobs(pairs: Sequence[tuple[Job, str]], workers: int = 2) -> list[dict[str, Any]]:
    if workers <= 1:
        return [deploy_job(*p) for p in pairs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_deploy, pairs))


def mean_spread(values: Sequence[float]) -> str:
    """``mean +- std`` in percent (std over seeds; 0 for one value), ``-`` for none."""
    import statistics

    if not values:
        return "-"
    mean = 100 * statistics.fmean(values)
    spread = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.1f} +- {spread:.1f}"
