"""A run directory: resolved config, per-epoch metrics, checkpoints, result and plots.

Layout::

    RUN_DIR/config.yaml        the resolved configuration
    RUN_DIR/metrics.jsonl      one line per epoch
    RUN_DIR/checkpoints/       training checkpoints (the last ``train.keep_checkpoints``),
                               after every epoch and every ``train.checkpoint_every`` batches
    RUN_DIR/model.safetensors  the selected parameters (+ model.json)
    RUN_DIR/system/errors.*    the simulated device's error realisation (safetensors + JSON)
    RUN_DIR/system/remote.json a remote device's connection record (identity, digests, ...)
    RUN_DIR/reference.jsonl    reference-pattern measurements (train.reference_every)
    RUN_DIR/result.json        final figures (accuracies are fractions in [0, 1])
    RUN_DIR/digests.json       SHA-256 of every file above that is read back
    RUN_DIR/measurements/      every measurement, with ``system.record: true`` (HDF5)
    RUN_DIR/tensorboard/       event files, with ``train.tensorboard: true``
    RUN_DIR/curves.png, RUN_DIR/confusion.png

``train_run(config, run_dir, resume=True)`` continues a run that was stopped (killed, a
machine lost) from its newest checkpoint that verifies, with the same numbers as a run that
was never stopped, and returns a finished run's ``result.json`` without training again.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from photonic_dat.config.factory import Experiment, build_experiment, sepn_parameter_count
from photonic_dat.config.loading import dump_config, load_config
from photonic_dat.config.schema import RunConfig
from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.exceptions import ConfigError, CorruptFileError, MissingFileError
from photonic_dat.integrity import MANIFEST, DigestBook
from photonic_dat.io import atomic_write_text
from photonic_dat.report.plots import plot_confusion, plot_training_curves
from photonic_dat.training.checkpoint import (
    CheckpointStore,
    load_flat_state,
    read_tensors,
    save_checkpoint,
)
from photonic_dat.training.evaluate import accuracy, deployment_accuracies, predict
from photonic_dat.training.loop import batches_per_epoch, dumps_jsonl, fit
from photonic_dat.training.run_lock import run_lock
from photonic_dat.training.state import LoopState, capture, restore

logger = logging.getLogger(__name__)

#: keys that may differ between a run and its resumption: where the data are read from (a run
#: continued on another machine) and how the run is shown or kept, not what it computes
RESUME_FREE_KEYS = frozenset(
    {
        "data.root",
        "data.download",
        "train.progress",
        "train.tensorboard",
        "train.checkpoint_every",
        "train.keep_checkpoints",
        # where it computes (a run started on the CPU may continue on a GPU node)
        "train.device",
        "train.threads",
    }
)
#: files and folders a fresh run replaces
_RUN_OUTPUTS = (
    "result.json",
    "evaluation.json",
    "model.safetensors",
    "model.json",
    "metrics.jsonl",
    "curves.png",
    "confusion.png",
    MANIFEST,
)
_RUN_FOLDERS = ("checkpoints", "measurements", "tensorboard", "system", "twin")


def _set_threads(config: RunConfig) -> None:
    if config.train.threads:
        torch.set_num_threads(config.train.threads)


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: data}


def config_differences(saved: RunConfig, given: RunConfig) -> list[str]:
    """Keys (outside :data:`RESUME_FREE_KEYS`) whose values differ, as ``key: a != b``."""
    a, b = _flat(saved.model_dump(mode="json")), _flat(given.model_dump(mode="json"))
    return [
        f"{key}: {a.get(key)!r} != {b.get(key)!r}"
        for key in sorted(set(a) | set(b))
        if key not in RESUME_FREE_KEYS and a.get(key) != b.get(key)
    ]


def _saved_config(run_dir: Path, book: DigestBook, overrides: list[str] | None = None) -> RunConfig:
    if not (run_dir / "config.yaml").is_file():
        raise MissingFileError(f"{run_dir} is not a run directory (no config.yaml)")
    return load_config(book.verify("config.yaml"), overrides or [])


def _finished_result(run_dir: Path, book: DigestBook) -> dict[str, Any] | None:
    if not (run_dir / "result.json").is_file():
        return None
    try:
        return book.read_json("result.json")
    except CorruptFileError as exc:
        logger.warning("%s; measuring the selected model again from the last checkpoint", exc)
        return None


def _load_errors(
    run_dir: Path, book: DigestBook, folder: str, stem: str
) -> ErrorRealisation | None:
    """An error realisation saved in ``run_dir/folder`` (``None`` if there is none), every
    file checked against the run's digests; damage is reported naming the file."""
    directory = run_dir / folder
    names = (f"{stem}.json", f"{stem}.safetensors")
    if not any((directory / name).exists() for name in names):
        return None
    book.read_json(f"{folder}/{stem}.json")
    read_tensors(book.verify(f"{folder}/{stem}.safetensors"))
    try:
        return ErrorRealisation.load(directory, stem=stem)
    except FileNotFoundError:
        raise
    except Exception as exc:  # parsed, yet inconsistent (digest, block count, names)
        raise CorruptFileError(directory / f"{stem}.json", str(exc)) from None


def _load_realisation(run_dir: Path, book: DigestBook) -> ErrorRealisation | None:
    """The saved device realisation (``None`` for systems that save none)."""
    return _load_errors(run_dir, book, "system", "errors")


def _remove_leftovers(run_dir: Path) -> None:
    """Temporary files of atomic writes that a kill cut short."""
    for path in run_dir.glob(".*.tmp"):
        path.unlink(missing_ok=True)


def _start_fresh(run_dir: Path) -> None:
    _remove_leftovers(run_dir)
    for name in _RUN_OUTPUTS:
        (run_dir / name).unlink(missing_ok=True)
    for name in _RUN_FOLDERS:
        if (run_dir / name).is_dir():
            shutil.rmtree(run_dir / name)


def _system_info(config: RunConfig, exp: Experiment) -> dict[str, Any]:
    caps = exp.system.capabilities
    return {
        "system": config.system.kind,
        "model": config.model,
        "method": config.method,
        "seed": config.seed,
        "errors_seed": config.errors.seed,
        "internal_taps": list(caps.internal_taps),
        "block_access": caps.block_access,
        "exposure_unit": exp.system.exposure_unit,
    }


def train_run(config: RunConfig, run_dir: Path, resume: bool = False) -> dict[str, Any]:
    """Train one method as configured and write the run directory; returns ``result.json``.

    Args:
        config: the run's configuration.
        run_dir: the run directory (created if needed).
        resume: continue the run already in ``run_dir``: a finished one's result is returned
            as it is; otherwise training continues from the newest checkpoint that verifies
            (damaged ones are reported and skipped), or starts if there is none. ``config``
            must equal the saved one except for :data:`RESUME_FREE_KEYS`. Without ``resume``
            the run starts afresh and replaces what ``run_dir`` held.

    Raises:
        ConfigError: ``resume`` with a directory that holds another configuration.
        CorruptFileError: a file of the run that is needed and has no good copy is damaged.
        RunInUseError: another process is writing ``run_dir``.
    """
    with run_lock(Path(run_dir), wait=False):
        return _train_run(config, Path(run_dir), resume)


def _train_run(config: RunConfig, run_dir: Path, resume: bool) -> dict[str, Any]:
    _set_threads(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    book = DigestBook(run_dir)
    store = CheckpointStore(run_dir / "checkpoints", config.train.keep_checkpoints)
    found = None
    realisation = None
    if resume and (run_dir / "config.yaml").is_file():
        differences = config_differences(_saved_config(run_dir, book), config)
        if differences:
            raise ConfigError(
                f"{run_dir} holds a run of another configuration ({'; '.join(differences[:4])})"
                "; resume it with its own configuration or train into another directory"
            )
        finished = _finished_result(run_dir, book)
        if finished is not None:
            return finished
        _remove_leftovers(run_dir)
        found = store.latest()
        if found is not None:  # the device the checkpoint was trained on
            realisation = _load_realisation(run_dir, book)
    else:
        _start_fresh(run_dir)
    atomic_write_text(run_dir / "config.yaml", dump_config(config))
    book.record("config.yaml")
    exp = build_experiment(config, realisation)
    if realisation is None:
        exp.system.save_device(run_dir / "system")
        if (run_dir / "system").is_dir():
            book.record_tree("system")

    state: LoopState | None = None
    log_records = 0
    store.discard_after(found[0] if found else None)
    if found is not None:
        info, tensors, meta = found
        state = restore(exp, tensors, meta)
        log_records = int(meta.get("log_records", 0))
        logger.info("%s: resuming from checkpoint %s", run_dir, info.name)
    return _train(exp, run_dir, book, store, state, log_records)


def _train(
    exp: Experiment,
    run_dir: Path,
    book: DigestBook,
    store: CheckpointStore,
    state: LoopState | None,
    log_records: int,
) -> dict[str, Any]:
    config = exp.config
    history: list[dict[str, Any]] = list(state.history) if state is not None else []
    atomic_write_text(run_dir / "metrics.jsonl", dumps_jsonl(history))
    recorder = None
    board = None
    try:
        if config.system.record:
            from photonic_dat.systems.measurement_log import MeasurementLog

            recorder = MeasurementLog(
                run_dir / "measurements",
                truncate_to=log_records,
                info=_system_info(config, exp),
            )
            exp.system.attach_recorder(recorder)
        if config.train.tensorboard:
            from photonic_dat.training.progress import TensorBoardLog

            board = TensorBoardLog(run_dir / "tensorboard", state.step if state else 0)

        def on_epoch(record: dict[str, Any]) -> None:
            history.append(record)
            atomic_write_text(run_dir / "metrics.jsonl", dumps_jsonl(history))
            if board is not None:
                board.epoch(record["epoch"] * batches_per_epoch(exp), record)

        def on_batch(st: LoopState, metrics: dict[str, float], size: int) -> None:
            if board is not None:
                board.batch(st.step, metrics, size, exp.system.queries.total_frames)

        def checkpoint(st: LoopState) -> None:
            extra = {"log_records": recorder.records if recorder is not None else 0}
            tensors, meta = capture(exp, st, extra)
            store.save(st.epoch, st.batch, tensors, meta)

        fitted = fit(
            exp,
            on_epoch,
            state=state,
            on_batch=on_batch if board is not None else None,
            checkpoint=checkpoint,
            checkpoint_every=config.train.checkpoint_every,
        )
    finally:
        if recorder is not None:
            exp.system.attach_recorder(None)
            recorder.close()
        if board is not None:
            board.close()
        exp.system.close()  # a remote device's lease goes back
    if fitted.reference:
        atomic_write_text(run_dir / "reference.jsonl", dumps_jsonl(fitted.reference))
        book.record("reference.jsonl")
    result = {**fitted.result, "sepn_parameters": sepn_parameter_count(exp.method)}
    save_checkpoint(
        run_dir / "model.safetensors",
        fitted.state,
        {"best_epoch": fitted.best_epoch, "method": exp.method.name},
    )
    book.record("model.safetensors", "model.json")
    if exp.method.twin.known_errors is not None:  # what the calibration fitted
        exp.method.twin.known_errors.save(run_dir / "twin", stem="calibrated_errors")
        book.record_tree("twin")
    title = f"{config.method} on {config.data.name}"
    plot_training_curves(history, run_dir / "curves.png", title)
    if fitted.confusion is not None:
        plot_confusion(fitted.confusion, run_dir / "confusion.png", f"{title} (physical, test)")
    atomic_write_text(run_dir / "result.json", json.dumps(result, indent=2))
    book.record("result.json")
    return result


def load_run(run_dir: Path, overrides: list[str] | None = None) -> Experiment:
    """Rebuild a run's experiment with its saved device and parameters; every file read is
    checked against the run's digests (a damaged one is reported naming it). ``overrides``
    (``KEY=VALUE``) change the configuration first, e.g. ``system.drift.phase_std=0.1``."""
    run_dir = Path(run_dir)
    book = DigestBook(run_dir)
    config = _saved_config(run_dir, book, overrides)
    _set_threads(config)
    realisation = _load_realisation(run_dir, book)
    exp = build_experiment(config, realisation)
    if (run_dir / "model.json").is_file():
        book.read_json("model.json")
    load_flat_state(exp.method.modules(), read_tensors(book.verify("model.safetensors")))
    load_twin_errors(exp.method.twin, run_dir)
    return exp


def load_twin_errors(twin, run_dir: Path) -> None:
    """Give ``twin`` the errors a calibration fitted during the run in ``run_dir``, if any."""
    fitted = _load_errors(Path(run_dir), DigestBook(run_dir), "twin", "calibrated_errors")
    if fitted is not None:
        twin.known_errors = fitted


def evaluate_run(run_dir: Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Re-measure a saved model on its physical system (test split); ``overrides`` change the
    device first (e.g. a drift: ``system.drift.phase_std=0.1``)."""
    run_dir = Path(run_dir)
    exp = load_run(run_dir, overrides)
    recorder = None
    if exp.config.system.record:
        from photonic_dat.systems.measurement_log import MeasurementLog

        recorder = MeasurementLog(run_dir / "measurements", info=_system_info(exp.config, exp))
        exp.system.attach_recorder(recorder)
    try:
        bs = exp.config.train.eval_batch_size
        x, y = exp.splits.test.images, exp.splits.test.labels
        m = exp.method
        label = exp.system.input_ids
        physical = predict(m.physical_scores, x, bs, m.encode, lambda ids: label("test", ids))
        out = {
            "test_accuracy_physical": accuracy(physical, y),
            "test_accuracy_twin": accuracy(predict(m.twin_scores, x, bs, m.encode), y),
            "physical_queries": exp.system.queries.total,
            "test_samples": len(y),
            "overrides": list(overrides or []),
        }
    finally:
        if recorder is not None:
            recorder.close()
        exp.system.close()
    atomic_write_text(run_dir / "evaluation.json", json.dumps(out, indent=2))
    return out


def deploy_run(run_dir: Path, config: RunConfig) -> dict[str, Any]:
    """Deploy the PNN trained in ``run_dir`` on the device that ``config`` describes (e.g. the
    same design with another error seed) and measure its validation and test accuracy."""
    exp = build_experiment(config)
    try:
        state = read_tensors(DigestBook(run_dir).verify("model.safetensors"))
        load_flat_state(
            {"pnn": exp.method.twin}, {k: v for k, v in state.items() if k.startswith("pnn/")}
        )
        load_twin_errors(exp.method.twin, run_dir)
        figures, _ = deployment_accuracies(exp.method, exp.splits, config.train.eval_batch_size)
    finally:
        exp.system.close()
    return {
        **figures,
        "physical_queries": exp.system.queries.total,
    }
