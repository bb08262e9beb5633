"""``photonic-dat sweep``: run a sweep spec, show its progress, write its report."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from photonic_dat.exceptions import ConfigError

ACTIONS = ("status", "report")


def _default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def show_progress() -> None:
    """Show the sweep's (and compare's) progress lines: the library logs them at INFO; the
    command line logs warnings only unless ``--verbose``, so lift these loggers to INFO (and
    give them a handler where the application configured none)."""
    for name in ("photonic_dat.experiments.sweep", "photonic_dat.experiments.executors"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
    if not logging.getLogger().handlers and not logging.getLogger("photonic_dat").handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logging.getLogger("photonic_dat").addHandler(handler)


def sweep(
    target: Annotated[
        str,
        typer.Argument(
            help="a sweep spec (YAML), or a sweep directory to continue; "
            "or 'status DIR' / 'report DIR'",
            metavar="SPEC.yaml | DIR | status DIR | report DIR",
        ),
    ],
    directory: Annotated[
        Path | None, typer.Argument(help="the sweep directory (status, report)", show_default=False)
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="sweep directory (default runs/sweep-NAME)"),
    ] = None,
    executor: Annotated[str | None, typer.Option(help="local (default), slurm or inline")] = None,
    jobs: Annotated[
        int | None, typer.Option(help="local: worker processes (default: the CPUs)")
    ] = None,
    retries: Annotated[
        int | None, typer.Option(help="extra attempts for a failing run (default 1)")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="a key for every run, e.g. --set train.epochs=1"),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="run only the runs with KEY=VALUE (a YAML list: any of; method=NAME too)"
        ),
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="train.device of every run: auto, cpu, cuda, cuda:N")
    ] = None,
    partition: Annotated[str | None, typer.Option(help="slurm: partition")] = None,
    time_min: Annotated[int | None, typer.Option(help="slurm: time limit per run (min)")] = None,
    cpus_per_run: Annotated[int | None, typer.Option(help="slurm: CPUs per run")] = None,
    gpus_per_run: Annotated[
        int | None, typer.Option(help="slurm: GPUs per run (default 1 if the device is cuda)")
    ] = None,
    array_parallelism: Annotated[
        int | None, typer.Option(help="slurm: runs at once (job array throttle)")
    ] = None,
    mem_gb: Annotated[float | None, typer.Option(help="slurm: memory per run (GB)")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="list the runs and what is left; run nothing")
    ] = False,
) -> None:
    """Run a sweep (a grid of methods, settings and seeds), resumably; or show its status or
    write its report. Each run gets its own run directory; finished runs are reused."""
    from photonic_dat.cli.main import _guard

    show_progress()
    if target in ACTIONS:
        if directory is None:
            _usage(f"sweep {target} needs the sweep directory: photonic-dat sweep {target} DIR")
        _guard(_action, target, directory)
        return
    if directory is not None:
        _usage(f"unexpected argument {directory}; use --out for the sweep directory")
    code = _guard(
        _run,
        Path(target),
        out,
        executor,
        jobs,
        retries,
        [*(set_ or []), *([f"train.device={device}"] if device else [])],
        only or [],
        {
            "partition": partition,
            "time_min": time_min,
            "cpus_per_run": cpus_per_run,
            "gpus_per_run": gpus_per_run,
            "array_parallelism": array_parallelism,
            "mem_gb": mem_gb,
        },
        dry_run,
    )
    if code:
        raise typer.Exit(code=code)


def _usage(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _action(action: str, directory: Path) -> None:
    from photonic_dat.experiments.sweep import sweep_status
    from photonic_dat.report.sweep import write_report

    if not (directory / "plan.json").is_file():
        raise ConfigError(f"{directory} is not a sweep directory (no plan.json)")
    if action == "status":
        typer.echo(sweep_status(directory))
    else:
        typer.echo(f"report: {write_report(directory)}")


def _run(target, out, kind, jobs, retries, sets, only, slurm_args, dry_run) -> int:
    from photonic_dat.config.loading import load_config
    from photonic_dat.experiments.executors import SlurmOptions, make_executor
    from photonic_dat.experiments.spec import expand, load_spec, select
    from photonic_dat.experiments.sweep import RUNS, run_dir_of, run_sweep, sweep_status

    if target.is_dir():  # continue a sweep from the spec it saved
        if not (target / "spec.yaml").is_file():
            raise ConfigError(f"{target} is not a sweep directory (no spec.yaml)")
        out = out or target
        spec = load_spec(target / "spec.yaml", sets)
    else:
        spec = load_spec(target, sets)
    root = out or Path("runs") / f"sweep-{spec.name}"
    kind = kind or spec.executor.kind
    plans = select(expand(spec), only)
    if dry_run:
        left = [p for p in plans if not (run_dir_of(root / RUNS, p) / "result.json").is_file()]
        for plan in plans:
            mark = " " if plan in left else "*"
            extra = f"  (deploys {plan.trained})" if plan.trained else ""
            typer.echo(f"{mark} {plan.run_id}{extra}")
        typer.echo(f"{len(plans)} runs, {len(left)} to run, in {root} (* finished)")
        return 0
    s = spec.executor.slurm
    given = {k: v for k, v in slurm_args.items() if v is not None}
    options = {**s.model_dump(), **given}
    if options["gpus_per_run"] is None:
        device = str(load_config(plans[0].preset, plans[0].overrides).train.device)
        options["gpus_per_run"] = 1 if device.startswith("cuda") else 0
    runner = make_executor(
        kind, root, jobs or spec.executor.jobs or _default_jobs(), SlurmOptions(**options)
    )
    outcome = run_sweep(spec, root, runner, retries, only=only)
    typer.echo(sweep_status(root))
    counts = ", ".join(f"{n} {s}" for s, n in outcome.counts().items())
    typer.echo(f"{counts} in {outcome.seconds:.0f} s; report: {root / 'report.md'}")
    return 0 if set(outcome.states.values()) == {"done"} else 1
