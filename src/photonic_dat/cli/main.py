"""The ``photonic-dat`` command line: train, evaluate and compare."""

from __future__ import annotations

import os

# Before torch loads: OpenMP threads that spin while waiting slow small ops down by orders of
# magnitude when another process holds a core (measured 450 ms vs 14 ms per step on 2 cores).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from datetime import datetime
from importlib.metadata import version as _package_version
from pathlib import Path
from typing import Annotated, Any

import typer

from photonic_dat.cli.sweep import sweep
from photonic_dat.config.loading import load_config
from photonic_dat.exceptions import RuntimeFailure, UsageError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Train photonic neural networks that keep their accuracy on imperfect hardware.",
)

ConfigArg = Annotated[
    str | None,
    typer.Argument(help="YAML file or preset name (mpnn-mnist, ...); omitted: mpnn-digits"),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="override a key, e.g. --set errors.bs_std=0.04"),
]
DeviceOpt = Annotated[
    str | None,
    typer.Option(help="where to train (train.device): auto, cpu, cuda or cuda:N"),
]


def _with_device(sets: list[str] | None, device: str | None) -> list[str]:
    return [*(sets or []), *([f"train.device={device}"] if device else [])]


#: exit status of a usage or configuration error (the input must change)
EXIT_USAGE = 2
#: exit status of a runtime failure (device, disk, corrupt file)
EXIT_RUNTIME = 1


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=code)


def _default_out(prefix: str) -> Path:
    return Path("runs") / f"{prefix}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _guard(fn, *args, **kwargs) -> Any:
    """Call ``fn``; a :class:`UsageError` exits 2 and a :class:`RuntimeFailure` exits 1 with
    one line naming the problem. Anything else is a bug and keeps its traceback."""
    try:
        return fn(*args, **kwargs)
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    except RuntimeFailure as exc:
        _fail(str(exc), EXIT_RUNTIME)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"photonic-dat {_package_version('photonic-dat')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="print the version"
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="log the library's progress messages")
    ] = False,
) -> None:
    """Train photonic neural networks that keep their accuracy on imperfect hardware."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _print_result(result: dict[str, Any]) -> None:
    keys = (
        "method",
        "internal_states",
        "dataset",
        "test_accuracy_physical",
        "test_accuracy_twin",
        "val_accuracy_physical",
        "physical_queries",
        "physical_frames",
        "train_seconds",
        "sepn_parameters",
    )
    for key in keys:
        if key in result and result[key] is not None:
            value = result[key]
            typer.echo(
                f"{key:>24}: {value:.4f}" if isinstance(value, float) else f"{key:>24}: {value}"
            )


def _print_budget(cfg) -> None:
    from photonic_dat.training.budget import plan_run

    phases, timings, source = _guard(plan_run, cfg)
    typer.echo(
        f"device timings ({source}): upload {timings.upload_s:g} s, frame {timings.frame_s:g} s,"
        f" readout {timings.readout_s:g} s"
    )
    typer.echo(f"{'phase':<28}{'samples':>12}{'frames':>14}{'uploads':>10}{'device s':>14}")
    for p in phases:
        typer.echo(
            f"{p.name:<28}{p.samples:>12,}{p.frames:>14,}{p.uploads:>10,}{p.seconds:>14,.2f}"
        )
    total = sum(p.seconds for p in phases)
    frames = sum(p.frames for p in phases)
    typer.echo(f"{'total':<28}{'':>12}{frames:>14,}{'':>10}{total:>14,.2f}")
    typer.echo(f"estimated device time: {total / 3600:.3f} h")
    if not timings.declared:
        typer.echo("the device declares no timings: set system.timings.* to price the frames")


@app.command()
def train(
    config: ConfigArg = None,
    set_: SetOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="run directory")] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="continue the run in this directory from its last good checkpoint "
            "(with its own configuration: --set may change only where the data are read from "
            "and how the run is shown or checkpointed; a finished run is reported as it is)"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="estimate the device time and stop")
    ] = False,
    device: DeviceOpt = None,
) -> None:
    """Train one PNN with one method against its (simulated) physical system."""
    from photonic_dat.training.run import train_run

    if resume is not None:
        if config is not None or out is not None:
            _fail("--resume continues the run with its own configuration: give no CONFIG or --out")
        if not (resume / "config.yaml").is_file():
            _fail(f"{resume} is not a run directory (no config.yaml)")
        from photonic_dat.integrity import DigestBook

        saved = _guard(DigestBook(resume).verify, "config.yaml")
        # --set, --device: keys a resume may change
        cfg = _guard(load_config, saved, _with_device(set_, device))
        run_dir = resume
    else:
        cfg = _guard(load_config, config, _with_device(set_, device), preset_default=True)
        if dry_run:
            _print_budget(cfg)
            return
        run_dir = out or _default_out(f"train-{cfg.method}")
    result = _guard(train_run, cfg, run_dir, resume=resume is not None)
    _print_result(result)
    typer.echo(f"run directory: {run_dir}")


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="a run directory from `train`")],
    set_: SetOpt = None,
) -> None:
    """Re-measure a saved model on its physical system (--set changes the device first, e.g.
    a drift: --set system.drift.phase_std=0.1)."""
    from photonic_dat.training.run import evaluate_run

    result = _guard(evaluate_run, run_dir, set_ or [])
    typer.echo(json.dumps(result, indent=2))


@app.command()
def serve(
    config: ConfigArg = None,
    set_: SetOpt = None,
    listen: Annotated[
        str,
        typer.Option(
            help="tcp://HOST:PORT to listen on (another host than 127.0.0.1 "
            "makes the device reachable from other machines)"
        ),
    ] = "tcp://127.0.0.1:5555",
    device: Annotated[
        str | None,
        typer.Option(
            help="MODULE:NAME of your own PhysicalSystem, built from (config, pnn); "
            "default: the config's simulated device"
        ),
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option(help="shared secret (default: ~/.config/photonic-dat/key)")
    ] = None,
    faults: Annotated[
        str | None,
        typer.Option(
            help="inject faults (simulated device, tests): e.g. "
            "drop-reply@3,restart@5,frame-lag@9,delay@2=0.5"
        ),
    ] = None,
    lease_s: Annotated[
        float, typer.Option(help="a client's lease expires after this idle time")
    ] = 60.0,
) -> None:
    """Serve a physical system to trainers (system.kind: remote) until Ctrl-C."""
    import logging

    from photonic_dat.config.serving import build_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = _guard(load_config, config, set_ or [], preset_default=True)
    server = _guard(
        build_server,
        cfg,
        device=device,
        address=listen,
        key_file=str(key_file) if key_file else None,
        faults=faults,
        lease_s=lease_s,
    )
    try:
        address = server.bind()
    except Exception as exc:  # zmq.ZMQError: address in use, bad address
        _fail(f"cannot listen on {listen}: {exc}")
    typer.echo(f"serving {server.identity['system']} on {address}; Ctrl-C stops", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@app.command()
def compare(
    config: ConfigArg = None,
    methods: Annotated[
        str,
        typer.Option(
            help="comma-separated: insilico, pat, dat, dat-none, dat-unitary, dat-separable"
        ),
    ] = "insilico,pat,dat-none,dat-unitary",
    set_: SetOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output directory")] = None,
    jobs: Annotated[
        int | None, typer.Option(help="methods trained side by side (default: the CPUs)")
    ] = None,
    device: DeviceOpt = None,
) -> None:
    """Train several methods on the same data and the same hidden errors, side by side in
    worker processes; print a table.

    Run again with the same arguments and --out to continue an interrupted comparison:
    finished runs are reused, an interrupted one continues from its last checkpoint."""
    from photonic_dat.cli.sweep import show_progress
    from photonic_dat.experiments.compare import compare_methods, parse_methods
    from photonic_dat.report.tables import format_table

    show_progress()
    cfg = _guard(load_config, config, _with_device(set_, device), preset_default=True)
    specs = _guard(parse_methods, methods)
    out_dir = out or _default_out("compare")
    rows = _guard(compare_methods, cfg, specs, out_dir, jobs=jobs, echo=typer.echo)
    typer.echo(format_table(rows))
    typer.echo(f"summary: {out_dir / 'summary.csv'}")


@app.command()
def tune(
    spec: Annotated[Path, typer.Argument(help="tuning spec (YAML): configurations per method")],
    config: Annotated[
        str | None, typer.Option("--config", "-c", help="YAML file or preset to tune")
    ] = None,
    set_: SetOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output directory")] = None,
    write_preset: Annotated[
        Path | None,
        typer.Option(help="write the config with the chosen configurations (tuned:) here"),
    ] = None,
    jobs: Annotated[int, typer.Option(help="worker processes (one thread each)")] = 2,
) -> None:
    """Give every method the same number of configurations on the validation split of a
    tuning device; print the choice, its spread and the frames spent, and keep it."""
    from photonic_dat.config.loading import resolve_config_path
    from photonic_dat.experiments.sweep import train_configs
    from photonic_dat.experiments.tuning import (
        load_tuning_spec,
        run_tuning,
        tuning_table,
        write_tuned_preset,
    )

    tuning = _guard(load_tuning_spec, spec)
    cfg = _guard(load_config, config, set_ or [], preset_default=True)
    out_dir = out or _default_out("tune")
    record = _guard(
        run_tuning, cfg, tuning, out_dir, lambda pairs: train_configs(pairs, workers=jobs)
    )
    typer.echo(tuning_table(record))
    if write_preset is not None:
        _guard(write_tuned_preset, cfg, record, write_preset, resolve_config_path(config))
        typer.echo(f"tuned preset: {write_preset}")
    typer.echo(f"record: {out_dir / 'tuning.json'}")


@app.command()
def calibrate(
    config: ConfigArg = None,
    set_: SetOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output directory")] = None,
    patterns: Annotated[int, typer.Option(help="random patterns in the report")] = 4,
) -> None:
    """Calibrate an SLM + camera system (dark frame, exposure, camera-to-twin registration)
    and write its commissioning report (twin against device, residuals, noise floor)."""
    from photonic_dat.experiments.commissioning import calibrate_and_commission

    cfg = _guard(load_config, config, set_ or [], preset_default=True)
    out_dir = out or _default_out("calibrate")
    data = _guard(calibrate_and_commission, cfg, out_dir, patterns)
    for row in data["patterns"]:
        typer.echo(
            f"{row['pattern']:>16}: residual {row['relative_residual']:.3f}  "
            f"noise floor {row['noise_floor']:.3f}"
        )
    typer.echo(json.dumps(data["summary"], indent=2))
    typer.echo(f"calibration and report: {out_dir}")


app.command()(sweep)


def main() -> None:
    try:
        app(prog_name="photonic-dat")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
