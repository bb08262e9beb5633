"""Equal tuning on the validation split: the same number of configurations for every method.

A tuning spec (YAML) names the configurations each method may try (its learning rate and its
own switches) and the budget they all share::

    set: [data.train_samples=2000]   # fixed for every run (the shared budget)
    epochs: 4                        # the same epoch budget for every method
    error_seed: 7                    # the tuning device; never one that a table reports
    methods:
      insilico:    [{train.lr: 0.01}, {train.lr: 0.02}]
      pat:         [{train.lr: 0.01}, {train.lr: 0.02}]
      dat-unitary: [{train.lr: 0.01, dat.lr: 0.01}, {train.lr: 0.02, dat.lr: 0.02}]

Every method must list the same number of configurations. Each configuration is trained on
the tuning device without touching the test split; a method's configuration is chosen by its
own selection criterion (direct deployment by the twin's validation accuracy, since it never
sees the device while training; calibration, PAT and DAT by the physical validation
accuracy). The result records every configuration's validation accuracy, the spread across
configurations and the frames each method spent on tuning, and the choice is written into a
preset (``tuned:``), which ``compare`` applies to each method's runs.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from photonic_dat.config.loading import apply_overrides, build_config
from photonic_dat.config.schema import RunConfig
from photonic_dat.exceptions import ConfigError
from photonic_dat.experiments.compare import config_for, parse_methods
from photonic_dat.io import atomic_write_text

__all__ = [
    "TuningSpec",
    "apply_tuned",
    "load_tuning_spec",
    "run_tuning",
    "tuning_table",
    "write_tuned_preset",
]


@dataclass(frozen=True)
class TuningSpec:
    methods: dict[str, list[dict[str, Any]]]
    epochs: int
    error_seed: int
    fixed: tuple[str, ...] = field(default_factory=tuple)

    @property
    def configurations(self) -> int:
        return len(next(iter(self.methods.values())))


def _overrides(values: Mapping[str, Any]) -> list[str]:
    return [f"{key}={json.dumps(value)}" for key, value in values.items()]


def load_tuning_spec(path: str | Path) -> TuningSpec:
    """Read and check a tuning spec (equal configuration counts, known methods)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"tuning spec not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    unknown = sorted(set(raw) - {"set", "epochs", "error_seed", "methods"})
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}")
    methods = raw.get("methods")
    if not isinstance(methods, dict) or not methods:
        raise ConfigError(f"{path}: 'methods' must map method specs to lists of configurations")
    parse_methods(",".join(methods))
    counts = {m: len(c) if isinstance(c, list) else -1 for m, c in methods.items()}
    if len(set(counts.values())) != 1 or min(counts.values()) < 1:
        raise ConfigError(
            f"{path}: every method needs the same number (>= 1) of configurations, got {counts}"
        )
    for method, configs in methods.items():
        if not all(isinstance(c, dict) for c in configs):
            raise ConfigError(f"{path}: methods.{method} must be a list of key: value mappings")
    epochs, seed = raw.get("epochs"), raw.get("error_seed")
    if not isinstance(epochs, int) or epochs < 1 or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"{path}: 'epochs' (>= 1) and 'error_seed' (>= 0) are required")
    return TuningSpec(methods, epochs, seed, tuple(raw.get("set") or ()))


def apply_tuned(config: RunConfig, spec: str) -> RunConfig:
    """``config_for(config, spec)`` plus the overrides ``tune`` chose for ``spec`` (a run
    that starts from a calibrated twin, ``spec+cal``, takes the choice made for ``spec``)."""
    cfg = config_for(config, spec)
    chosen = config.tuned.get(spec) or config.tuned.get(spec.partition("+")[0])
    if not chosen:
        return cfg
    data = cfg.model_dump(mode="json")
    return build_config(apply_overrides(data, _overrides(chosen)))


def _selection_score(result: Mapping[str, Any]) -> float:
    return float(result["best_val_accuracy"])


def run_tuning(
    base: RunConfig,
    spec: TuningSpec,
    out_dir: Path,
    run_many: Callable[[Sequence[tuple[RunConfig, Path]]], list[dict[str, Any]]],
) -> dict[str, Any]:
    """Train every configuration of every method on the tuning device; returns the record."""
    jobs: list[tuple[str, int, RunConfig, Path]] = []
    for method, configs in spec.methods.items():
        for index, values in enumerate(configs):
            overrides = [
                *spec.fixed,
                *_overrides(values),
                f"train.epochs={spec.epochs}",
                f"errors.seed={spec.error_seed}",
                "train.measure_test=false",
                "train.progress=false",
            ]
            data = config_for(base, method).model_dump(mode="json")
            data["tuned"] = {}
            cfg = build_config(apply_overrides(data, overrides))
            jobs.append((method, index, cfg, out_dir / method / f"config{index}"))
    results = run_many([(cfg, path) for _, _, cfg, path in jobs])
    record: dict[str, Any] = {"epochs": spec.epochs, "error_seed": spec.error_seed, "methods": {}}
    for method, configs in spec.methods.items():
        rows = [
            {"overrides": configs[i], "result": r}
            for (m, i, _, _), r in zip(jobs, results, strict=True)
            if m == method
        ]
        scores = [_selection_score(row["result"]) for row in rows]
        best = max(range(len(rows)), key=scores.__getitem__)
        record["methods"][method] = {
            "criterion": "twin" if method == "insilico" else "physical",
            "validation": scores,
            "chosen": rows[best]["overrides"],
            "chosen_validation": scores[best],
            "spread": max(scores) - min(scores),
            "mean": statistics.fmean(scores),
            "frames": sum(int(row["result"].get("physical_frames") or 0) for row in rows),
        }
    atomic_write_text(out_dir / "tuning.json", json.dumps(record, indent=2))
    return record


def write_tuned_preset(
    base: RunConfig, record: Mapping[str, Any], target: Path, header_from: Path | None = None
) -> None:
    """Write the choices as a ``tuned:`` section.

    When ``target`` is the preset file that was tuned (``header_from``) and it resolves to
    ``base``, the section is appended to that file (replacing an older one), so its comments
    stay. Otherwise the resolved ``base`` is written with the section, keeping the comment
    lines of ``header_from``.
    """
    tuned = {m: dict(v["chosen"]) for m, v in record["methods"].items()}
    note = (
        f"# tuned: chosen by `photonic-dat tune` on the validation split of error seed "
        f"{record['error_seed']}, {record['epochs']} epochs per configuration\n"
    )
    section = note + yaml.safe_dump({"tuned": tuned}, sort_keys=False)
    if header_from is not None and target.resolve() == header_from.resolve():
        lines = header_from.read_text().splitlines()
        cut = next(
            (i for i, line in enumerate(lines) if line.startswith(("# tuned:", "tuned:"))),
            len(lines),
        )
        kept = "".join(line + "\n" for line in lines[:cut])
        same = build_config(yaml.safe_load(kept) or {})
        if same.model_dump(exclude={"tuned"}) == base.model_dump(exclude={"tuned"}):
            text = kept + section
            build_config(yaml.safe_load(text))
            atomic_write_text(target, text)
            return
    data = base.model_dump(mode="json")
    data["tuned"] = tuned
    build_config(data)  # what is written must load
    header = ""
    if header_from is not None and header_from.is_file():
        lines = header_from.read_text().splitlines()
        header = "".join(line + "\n" for line in lines if line.startswith("#"))
    atomic_write_text(target, header + note + yaml.safe_dump(data, sort_keys=False))


def tuning_table(record: Mapping[str, Any]) -> str:
    """The record as a markdown table (one row per method)."""
    lines = [
        "| method | criterion | validation per configuration | chosen | spread | frames |",
        "|---|---|---|---|---|---|",
    ]
    for method, m in record["methods"].items():
        vals = " / ".join(f"{100 * v:.1f}" for v in m["validation"])
        chosen = ", ".join(f"{k}={v}" for k, v in m["chosen"].items())
        lines.append(
            f"| {method} | {m['criterion']} | {vals} | {chosen} | {100 * m['spread']:.1f} "
            f"| {m['frames']:,} |"
        )
    return "\n".join(lines)
