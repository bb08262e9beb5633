"""Several methods on the same data and the same hidden device."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from photonic_dat.config.schema import RunConfig
from photonic_dat.exceptions import ConfigError
from photonic_dat.report.tables import write_summary
from photonic_dat.training.run import train_run

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


def compare_methods(
    base: RunConfig, specs: list[str], out_dir: Path, echo: Callable[[str], Any] = logger.info
) -> list[dict[str, Any]]:
    """Train each method in ``out_dir/<spec>``; runs already finished there are reused and an
    interrupted one continues from its last checkpoint (same configuration required)."""
    from photonic_dat.experiments.tuning import apply_tuned

    rows = []
    for spec in specs:
        cfg = apply_tuned(base, spec)
        run_dir = out_dir / spec
        echo(f"training {spec} -> {run_dir}")
        result = train_run(cfg, run_dir, resume=True)
        rows.append({**result, "label": label_for(cfg), "run_dir": str(run_dir)})
    write_summary(rows, out_dir)
    return rows
