"""Plots of a run: training curves and a confusion matrix (PNG, written atomically)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from photonic_dat.io import atomic_path  # noqa: E402


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_training_curves(history: list[dict[str, Any]], path: Path, title: str = "") -> None:
    epochs = [r["epoch"] for r in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, label in (("task_loss", "task loss"), ("similarity_loss", "similarity loss")):
        values = [r.get(key) for r in history]
        if any(v is not None for v in values):
            ax = ax_loss if key == "task_loss" else ax_loss.twinx()
            ax.plot(epochs, values, label=label, color="C0" if key == "task_loss" else "C3")
            ax.set_ylabel(label)
            if key == "similarity_loss":
                ax.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    for key, label in (
        ("train_accuracy_twin", "train (twin)"),
        ("train_accuracy_physical", "train (physical)"),
        ("val_accuracy_physical", "val (physical)"),
        ("val_accuracy_twin", "val (twin)"),
    ):
        values = [r.get(key) for r in history]
        if any(v is not None for v in values):
            ax_acc.plot(epochs, values, label=label)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend(loc="lower right", fontsize=8)
    ax_acc.grid(alpha=0.3)
    fig.suptitle(title)
    _save(fig, path)


def plot_confusion(confusion: torch.Tensor, path: Path, title: str = "") -> None:
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
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
    _save(fig, path)
