"""Several methods on the same data and the same hidden device."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from photonic_dat.config.schema import RunConfig
from photonic_dat.report.tables import write_summary
from photonic_dat.training.run import train_run

METHOD_SPECS = ("insilico", "pat", "dat", "dat-none", "dat-unitary", "dat-separable")


def parse_methods(text: str) -> list[str]:
    specs = [s.strip() for s in text.split(",") if s.strip()]
    if not specs:
        raise ValueError("--methods is empty")
    bad = [s for s in specs if s not in METHOD_SPECS]
    if bad:
        raise ValueError(f"unknown method(s) {bad}; choose from {', '.join(METHOD_SPECS)}")
    return specs


def config_for(base: RunConfig, spec: str) -> RunConfig:
    cfg = base.model_copy(deep=True)
    method, _, mode = spec.partition("-")
    cfg.method = method
    if mode:
        cfg.dat.internal_states = mode
    return cfg


def label_for(cfg: RunConfig) -> str:
    if cfg.method == "dat":
        return f"dat ({cfg.dat.internal_states})"
    return {"insilico": "insilico (DD)"}.get(cfg.method, cfg.method)


def compare_methods(
    base: RunConfig, specs: list[str], out_dir: Path, echo: Callable[[str], Any] = print
) -> list[dict[str, Any]]:
    rows = []
    for spec in specs:
        cfg = config_for(base, spec)
        run_dir = out_dir / spec
        echo(f"training {spec} -> {run_dir}")
        result = train_run(cfg, run_dir)
        rows.append({**result, "label": label_for(cfg), "run_dir": str(run_dir)})
    write_summary(rows, out_dir)
    return rows
