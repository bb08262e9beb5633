"""Calibrate an SLM + camera system and write its commissioning report (``photonic-dat
calibrate``): what a lab reads before it spends device time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from photonic_dat.config.factory import build_pnn, build_system
from photonic_dat.config.loading import dump_config
from photonic_dat.config.schema import RunConfig
from photonic_dat.exceptions import ConfigError
from photonic_dat.io import atomic_write_text
from photonic_dat.models.blocks import observe
from photonic_dat.report.commissioning import write_commissioning
from photonic_dat.seeding import stream_generator
from photonic_dat.systems.slm_camera import SLMCameraSystem, commission

__all__ = ["calibrate_and_commission"]


def calibrate_and_commission(
    config: RunConfig, out_dir: Path, random_patterns: int = 4, repeats: int = 2
) -> dict[str, Any]:
    """Build the configured SLM + camera system (it calibrates), store the calibration in
    ``out_dir`` and write the commissioning report there; returns the report's JSON part
    with the frames spent."""
    pnn = build_pnn(config)
    system = build_system(config, pnn)
    if not isinstance(system, SLMCameraSystem):
        raise ConfigError(
            f"calibrate needs an SLM + camera system (system.kind=slmsuite), "
            f"not {config.system.kind!r} for model {config.model!r}"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "config.yaml", dump_config(config))
    system.save_device(out_dir)
    block = pnn.blocks[0]

    def predict(phase: torch.Tensor) -> torch.Tensor:
        return observe(block(phase[None] - block.phase.detach()))[0]

    report = commission(
        system,
        predict,
        random_patterns=random_patterns,
        repeats=repeats,
        generator=stream_generator(config.seed, "calibration"),
    )
    data = write_commissioning(report, out_dir)
    return {**data, "frames": system.queries.as_dict()["frames"]}
