"""A run directory: resolved config, per-epoch metrics, checkpoint, result and plots.

Layout::

    RUN_DIR/config.yaml        the resolved configuration
    RUN_DIR/metrics.jsonl      one line per epoch
    RUN_DIR/model.safetensors  the selected parameters (+ model.json)
    RUN_DIR/system/errors.*    the simulated device's error realisation (safetensors + JSON)
    RUN_DIR/result.json        final figures (accuracies are fractions in [0, 1])
    RUN_DIR/curves.png, RUN_DIR/confusion.png
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from photonic_dat.config.factory import Experiment, build_experiment, sepn_parameter_count
from photonic_dat.config.loading import dump_config, load_config
from photonic_dat.config.schema import RunConfig
from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.io import atomic_write_text
from photonic_dat.report.plots import plot_confusion, plot_training_curves
from photonic_dat.training.checkpoint import load_checkpoint, load_flat_state, save_checkpoint
from photonic_dat.training.evaluate import accuracy, deployment_accuracies, predict
from photonic_dat.training.loop import dumps_jsonl, fit


def _set_threads(config: RunConfig) -> None:
    if config.train.threads:
        torch.set_num_threads(config.train.threads)


def train_run(config: RunConfig, run_dir: Path) -> dict[str, Any]:
    """Train one method as configured and write the run directory; returns ``result.json``."""
    _set_threads(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", dump_config(config))
    exp = build_experiment(config)
    exp.system.save_device(run_dir / "system")
    history: list[dict[str, Any]] = []

    def on_epoch(record: dict[str, Any]) -> None:
        history.append(record)
        atomic_write_text(run_dir / "metrics.jsonl", dumps_jsonl(history))

    fitted = fit(exp, on_epoch)
    result = {**fitted.result, "sepn_parameters": sepn_parameter_count(exp.method)}
    save_checkpoint(
        run_dir / "model.safetensors",
        fitted.state,
        {"best_epoch": fitted.best_epoch, "method": exp.method.name},
    )
    if exp.method.twin.known_errors is not None:  # what the calibration fitted
        exp.method.twin.known_errors.save(run_dir / "twin", stem="calibrated_errors")
    title = f"{config.method} on {config.data.name}"
    plot_training_curves(history, run_dir / "curves.png", title)
    if fitted.confusion is not None:
        plot_confusion(fitted.confusion, run_dir / "confusion.png", f"{title} (physical, test)")
    atomic_write_text(run_dir / "result.json", json.dumps(result, indent=2))
    return result


def load_run(run_dir: Path) -> Experiment:
    """Rebuild a run's experiment with its saved device and parameters."""
    if not (run_dir / "config.yaml").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.yaml)")
    config = load_config(run_dir / "config.yaml")
    _set_threads(config)
    realisation = ErrorRealisation.load(run_dir / "system")
    exp = build_experiment(config, realisation)
    load_flat_state(exp.method.modules(), load_checkpoint(run_dir / "model.safetensors"))
    load_twin_errors(exp.method.twin, run_dir)
    return exp


def load_twin_errors(twin, run_dir: Path) -> None:
    """Give ``twin`` the errors a calibration fitted during the run in ``run_dir``, if any."""
    if (run_dir / "twin" / "calibrated_errors.json").is_file():
        twin.known_errors = ErrorRealisation.load(run_dir / "twin", stem="calibrated_errors")


def evaluate_run(run_dir: Path) -> dict[str, Any]:
    """Re-measure a saved model on its physical system (test split)."""
    exp = load_run(run_dir)
    bs = exp.config.train.eval_batch_size
    x, y = exp.splits.test.images, exp.splits.test.labels
    m = exp.method
    out = {
        "test_accuracy_physical": accuracy(predict(m.physical_scores, x, bs, m.encode), y),
        "test_accuracy_twin": accuracy(predict(m.twin_scores, x, bs, m.encode), y),
        "physical_queries": exp.system.queries.total,
        "test_samples": len(y),
    }
    atomic_write_text(run_dir / "evaluation.json", json.dumps(out, indent=2))
    return out


def deploy_run(run_dir: Path, config: RunConfig) -> dict[str, Any]:
    """Deploy the PNN trained in ``run_dir`` on the device that ``config`` describes (e.g. the
    same design with another error seed) and measure its validation and test accuracy."""
    exp = build_experiment(config)
    state = load_checkpoint(run_dir / "model.safetensors")
    load_flat_state(
        {"pnn": exp.method.twin}, {k: v for k, v in state.items() if k.startswith("pnn/")}
    )
    load_twin_errors(exp.method.twin, run_dir)
    figures, _ = deployment_accuracies(exp.method, exp.splits, config.train.eval_batch_size)
    return {
        **figures,
        "physical_queries": exp.system.queries.total,
    }
