"""The commissioning report of an SLM + camera system: twin against device, before training.

Writes ``commissioning.json`` (per pattern: relative residual and repeat noise floor;
summary) and ``commissioning.png`` (twin, device and residual maps of every pattern), both
atomically. A residual far above the noise floor means the twin misses part of the physics
(aberrations, beam shape, phase response, vignetting): what DAT's SEPNs will have to learn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from photonic_dat.io import atomic_path, atomic_write_text

__all__ = ["write_commissioning"]


def write_commissioning(report: dict[str, Any], directory: str | Path) -> dict[str, Any]:
    """Write the report of :func:`photonic_dat.systems.slm_camera.commission`; returns the
    JSON part."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rows = report["patterns"]
    data = {
        "summary": report["summary"],
        "patterns": [
            {k: r[k] for k in ("pattern", "relative_residual", "noise_floor")} for r in rows
        ],
    }
    atomic_write_text(directory / "commissioning.json", json.dumps(data, indent=2))
    fig = Figure(figsize=(7.5, 2.2 * len(rows)))
    axes = fig.subplots(len(rows), 3, squeeze=False)
    for row, r in zip(axes, rows, strict=True):
        scale = float(max(r["twin"].max(), r["device"].max()))
        for ax, key in zip(row, ("twin", "device", "residual"), strict=True):
            image = r[key].numpy()
            if key == "residual":
                ax.imshow(image, cmap="RdBu_r", vmin=-scale, vmax=scale)
                ax.set_title(
                    f"residual {r['relative_residual']:.3f} (floor {r['noise_floor']:.3f})",
                    fontsize=8,
                )
            else:
                ax.imshow(image, cmap="inferno", vmin=0, vmax=scale)
                ax.set_title(f"{r['pattern']}: {key}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    with atomic_path(directory / "commissioning.png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return data
