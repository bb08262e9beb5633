"""Plots of a run: training curves and a confusion matrix (PNG, written atomically).

Figures are drawn on :class:`matplotlib.figure.Figure` objects, never through ``pyplot``: the
library leaves the user's matplotlib backend (a notebook's, say) as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from photonic_dat.io import atomic_path


def save_figure(fig: Figure, path: Path, dpi: int = 110) -> None:
    """Write ``fig`` as a PNG, atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)


def _series(history: list[dict[str, Any]], key: str) -> list[Any] | None:
    values = [r.get(key) for r in history]
    return values if any(v is not None for v in values) else None


def plot_training_curves(history: list[dict[str, Any]], path: Path, title: str = "") -> None:
    """Write :func:`training_curves_figure` as a PNG."""
    save_figure(training_curves_figure(history, title), path)


def training_curves_figure(history: list[dict[str, Any]], title: str = "") -> Figure:
    """Task loss, similarity loss (DAT; its own panel, log scale) and accuracies per epoch."""
    epochs = [r["epoch"] for r in history]
    task = _series(history, "task_loss")
    similarity = _series(history, "similarity_loss")
    panels = 3 if similarity else 2
    fig = Figure(figsize=(4.2 * panels, 3.6))
    # fixed margins (a layout engine costs more than the drawing): room for each panel's
    # tick labels between the panels, the titles and the x labels
    fig.subplots_adjust(left=0.6 / (4.2 * panels), right=0.99, bottom=0.14, top=0.84, wspace=0.3)
    axes = fig.subplots(1, panels)
    ax_loss, ax_acc = axes[0], axes[-1]
    if task:
        ax_loss.plot(epochs, task, color="C0")
    ax_loss.set_title("task loss (cross-entropy)", fontsize=9)
    if similarity:
        ax_sim = axes[1]
        ax_sim.plot(epochs, similarity, color="C3")
        ax_sim.set_yscale("log")
        ax_sim.set_title("similarity loss (twin vs device)", fontsize=9)
    for key, label in (
        ("train_accuracy_twin", "train (twin)"),
        ("train_accuracy_physical", "train (physical)"),
        ("val_accuracy_physical", "val (physical)"),
        ("val_accuracy_twin", "val (twin)"),
    ):
        values = _series(history, key)
        if values:
            ax_acc.plot(epochs, values, label=label)
    ax_acc.set_title("accuracy", fontsize=9)
    ax_acc.legend(loc="lower right", fontsize=8)
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


def plot_confusion(confusion: torch.Tensor, path: Path, title: str = "") -> None:
    fig = Figure(figsize=(4.6, 4.2))
    fig.subplots_adjust(left=0.12, right=0.88, bottom=0.11, top=0.93)
    ax = fig.subplots()
    image = ax.imshow(confusion.numpy(), cmap="Blues")
    n = confusion.shape[0]
    for i in range(n):
        for j in range(n):
            value = int(confusion[i, j])
            if value:
                color = "white" if value > confusion.max() / 2 else "black"
                ax.text(j, i, str(value), ha="center", va="center", fontsize=6, color=color)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    save_figure(fig, path)
