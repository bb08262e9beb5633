"""Sweep specifications: a preset, fixed keys, a grid, seeds and methods, expanded into runs.

A spec is a YAML file::

    name: mpnn-table                 # default: the file's stem
    preset: mpnn-mnist               # a preset name or a config file (relative to the spec)
    set:                             # keys every run takes (any configuration key)
      train.epochs: 25
    grid:                            # every combination of these values ...
      data.name: [mnist, fashion-mnist]
    zip:                             # ... times each group, whose keys' values go together
      errors:
        errors.bs_std: [0.0, 0.04, 0.06]
        errors.ps_std: [0.0, 0.04, 0.06]
      one_error:                     # or a list of rows, each setting its own keys
        - {errors.shift_std: 2.0e-6}
        - {errors.distance_std: 1.0e-4}
    seeds: [0, 1, 2]                 # values of seed_key; reports give mean +- std over them
    seed_key: errors.seed            # the default
    methods:                         # name -> its keys; a plain list is short for method=NAME
      dd:                            #   ("dat-none" is method=dat, dat.internal_states=none)
        set: {method: insilico}
        deploy: {errors.bs_std: 0.0, errors.ps_std: 0.0, errors.seed: 0}
      pat: {set: {method: pat}}
      dat-unitary: {set: {method: dat, dat.internal_states: unitary}, seeds: [0]}
      dat-cal:                       # tuned: apply what `photonic-dat tune` chose for it
        set: {method: dat, calibration.enabled: true}
        tuned: dat-unitary+cal
    exclude:                         # leave out runs matching every key of an entry
      - {errors.bs_std: 0.0, errors.ps_std: 0.0, method: [pat, dat-unitary]}
    reference:                       # published figures (%) beside ours in the report
      source: Zheng et al. 2023
      rows:
        - {data.name: mnist, errors.bs_std: 0.04, errors.ps_std: 0.04, dd: 86.3, pat: 92.6}
    report:
      magnitude: [errors.bs_std]     # x of the error figure (default: the varying errors.*)
      depth: mpnn.meshes             # x of the depth figure (default: a varying depth key)

A method with ``deploy`` trains nothing per cell: the model trained on the cell's configuration
with the ``deploy`` keys replaced (one training shared by every cell that agrees once they are
replaced) is measured on each cell's device, e.g. one in-silico model deployed on many error
seeds or error magnitudes (direct deployment). Methods are open: any ``method`` value the
configuration accepts works, so a new training method needs no change here.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from photonic_dat.config.loading import (
    DEFAULT_PRESET,
    load_config,
    parse_override,
    resolve_config_path,
)
from photonic_dat.exceptions import ConfigError

Scalar = str | int | float | bool | None

#: configuration keys whose values are a PNN's depth (the report's depth figure)
DEPTH_KEYS = ("mpnn.meshes", "dpnn.layers")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MethodSpec(_Strict):
    """One method of a sweep: the keys it sets, and optionally a deployment."""

    set: dict[str, Any] = Field(default_factory=dict)
    deploy: dict[str, Any] | None = None
    label: str | None = None
    seeds: list[Scalar] | None = None
    #: apply the choice ``photonic-dat tune`` wrote for this name into the preset's
    #: ``tuned:`` section (e.g. ``insilico``, ``dat-unitary+cal``), if there is one
    tuned: str | None = None


class ReferenceSpec(_Strict):
    source: str = ""
    rows: list[dict[str, Any]] = Field(default_factory=list)


class ReportSpec(_Strict):
    magnitude: list[str] | None = None
    depth: str | None = None

    @field_validator("magnitude", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class SlurmSpec(_Strict):
    partition: str | None = None
    time_min: int = Field(60, ge=1)
    cpus_per_run: int = Field(1, ge=1)
    gpus_per_run: int | None = Field(None, ge=0, description="default: 1 when train.device is cuda")
    array_parallelism: int = Field(64, ge=1)
    mem_gb: float | None = Field(None, gt=0)


class ExecutorSpec(_Strict):
    kind: str = "local"
    jobs: int | None = Field(None, ge=1)
    retries: int = Field(1, ge=0)
    slurm: SlurmSpec = Field(default_factory=SlurmSpec)


class SweepSpec(_Strict):
    name: str = "sweep"
    preset: str = DEFAULT_PRESET
    set: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    zip: dict[str, dict[str, list[Any]] | list[dict[str, Any]]] = Field(default_factory=dict)
    seeds: list[Scalar] | None = None
    seed_key: str = "errors.seed"
    methods: dict[str, MethodSpec] = Field(default_factory=dict)
    exclude: list[dict[str, Any]] = Field(default_factory=list)
    reference: ReferenceSpec = Field(default_factory=ReferenceSpec)
    report: ReportSpec = Field(default_factory=ReportSpec)
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)

    @field_validator("methods", mode="before")
    @classmethod
    def _method_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise ValueError("a list of methods must hold method names")
            return {name: {"set": method_keys(name)} for name in value}
        return value


def method_keys(name: str) -> dict[str, Any]:
    """``"pat"`` -> ``{method: pat}``; ``"dat-none"`` -> ``{method: dat, dat.internal_states:
    none}`` (the ``compare`` command's method names)."""
    method, _, mode = name.partition("-")
    keys: dict[str, Any] = {"method": method}
    if mode:
        keys["dat.internal_states"] = mode
    return keys


@dataclass(frozen=True)
class RunPlan:
    """One run of a sweep.

    Attributes:
        run_id: the run directory, relative to the sweep's ``runs/`` folder.
        method: the spec's method name (``<name>.trained`` for the trainings of deployments).
        kind: ``train`` or ``deploy``.
        preset: the preset name or config path the run starts from.
        overrides: ``KEY=VALUE`` strings applied to the preset, in order.
        cell: the grid and zip values of the run, ``(key, value)`` in spec order.
        seed: the value of the seed key (``None`` without seeds).
        trained: for a deployment, the ``run_id`` of the training it deploys.
        tuned: the name of the preset's ``tuned:`` entry the run applies, if any.
    """

    run_id: str
    method: str
    kind: str
    preset: str | None
    overrides: tuple[str, ...]
    cell: tuple[tuple[str, Any], ...] = ()
    seed: Any = None
    trained: str | None = None
    label: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    tuned: str | None = None

    @property
    def needs(self) -> tuple[str, ...]:
        return (self.trained,) if self.trained else ()

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "method": self.method,
            "kind": self.kind,
            "preset": self.preset,
            "overrides": list(self.overrides),
            "cell": [list(kv) for kv in self.cell],
            "seed": self.seed,
            "trained": self.trained,
            "label": self.label,
            "values": dict(self.values),
            "tuned": self.tuned,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunPlan:
        return cls(
            run_id=data["run_id"],
            method=data["method"],
            kind=data["kind"],
            preset=data.get("preset"),
            overrides=tuple(data["overrides"]),
            cell=tuple((k, v) for k, v in data.get("cell", [])),
            seed=data.get("seed"),
            trained=data.get("trained"),
            label=data.get("label"),
            values=dict(data.get("values", {})),
            tuned=data.get("tuned"),
        )


# ----------------------------------------------------------------------------- loading


def _format_validation(err: ValidationError, where: str) -> str:
    lines = []
    for item in err.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        msg = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{key}: {msg}")
    return f"{where}: invalid sweep spec:\n  " + "\n  ".join(lines)


def parse_spec(data: Any, where: str = "spec", base_dir: Path | None = None) -> SweepSpec:
    """Validate a spec mapping; a relative ``preset`` path is taken from ``base_dir``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: a sweep spec must be a mapping of keys")
    try:
        spec = SweepSpec.model_validate(dict(data))
    except ValidationError as err:
        raise ConfigError(_format_validation(err, where)) from None
    if spec.preset and base_dir is not None and not Path(spec.preset).is_absolute():
        candidate = base_dir / spec.preset
        if candidate.is_file():
            spec.preset = str(candidate.resolve())
    _check(spec, where)
    return spec


def load_spec(path: str | Path, sets: Sequence[str] = ()) -> SweepSpec:
    """Read a spec file; ``sets`` (``KEY=VALUE``) are added to its fixed keys."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep spec not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    data = dict(data or {}) if isinstance(data, Mapping) else data
    if isinstance(data, dict):
        data.setdefault("name", path.stem)
    spec = parse_spec(data, str(path), path.parent)
    return with_sets(spec, sets)


def with_sets(spec: SweepSpec, sets: Sequence[str]) -> SweepSpec:
    """A copy of ``spec`` whose fixed keys also hold the ``KEY=VALUE`` strings ``sets``."""
    if not sets:
        return spec
    spec = spec.model_copy(deep=True)
    axes = {*spec.grid, *(k for g in spec.zip.values() for k in _group_keys(g))}
    if spec.seeds is not None:
        axes.add(spec.seed_key)
    for text in sets:
        path, value = parse_override(text)
        key = ".".join(path)
        if key in axes:
            raise ConfigError(
                f"--set {key}: the sweep varies {key}; pick some of its values with --only"
            )
        spec.set[key] = value
    return spec


def _group_keys(group: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[str]:
    if isinstance(group, Mapping):
        return list(group)
    return list(dict.fromkeys(k for row in group for k in row))


def select(plans: Sequence[RunPlan], only: Sequence[str]) -> list[RunPlan]:
    """The runs whose keys match every ``KEY=VALUE`` of ``only`` (a YAML list value: any of
    its items; ``method=NAME`` picks methods), with the trainings their deployments need."""
    wanted = {}
    for text in only:
        path, value = parse_override(text)
        wanted[".".join(path)] = value
    if not wanted:
        return list(plans)
    kept = [
        p
        for p in plans
        if not p.method.endswith(".trained") and _matches(wanted, {**p.values, "method": p.method})
    ]
    needed = {p.trained for p in kept if p.trained}
    kept_ids = {p.run_id for p in kept} | needed
    out = [p for p in plans if p.run_id in kept_ids]
    if not out:
        raise ConfigError(f"--only {' '.join(only)}: no run of the sweep matches")
    return out


def dump_spec(spec: SweepSpec) -> str:
    return yaml.safe_dump(spec.model_dump(mode="json", exclude_none=True), sort_keys=False)


def _check(spec: SweepSpec, where: str) -> None:
    if not spec.methods:
        raise ConfigError(f"{where}: methods: name at least one method")
    axes: dict[str, str] = {}
    for key, values in spec.grid.items():
        if not values:
            raise ConfigError(f"{where}: grid.{key}: give at least one value")
        axes[key] = f"grid.{key}"
    for group, keys in spec.zip.items():
        if isinstance(keys, list):
            if not keys or not all(keys):
                raise ConfigError(f"{where}: zip.{group}: give non-empty rows of keys")
            keys = dict.fromkeys(k for row in keys for k in row)
        else:
            lengths = {k: len(v) for k, v in keys.items()}
            if not keys or len(set(lengths.values())) != 1 or 0 in lengths.values():
                raise ConfigError(
                    f"{where}: zip.{group}: every key needs the same number of values "
                    f"(got {lengths})"
                )
        for key in keys:
            if key in axes:
                raise ConfigError(f"{where}: zip.{group}.{key} is also {axes[key]}")
            axes[key] = f"zip.{group}"
    if spec.seeds is not None and spec.seed_key in axes:
        raise ConfigError(f"{where}: seed_key {spec.seed_key} is also {axes[spec.seed_key]}")
    for name, method in spec.methods.items():
        if not name or "/" in name or name.startswith("."):
            raise ConfigError(f"{where}: methods: invalid method name {name!r}")
        if method.seeds is not None and spec.seeds is None:
            raise ConfigError(f"{where}: methods.{name}.seeds needs top-level seeds")
        extra = set(method.seeds or []) - set(spec.seeds or [])
        if extra:
            raise ConfigError(
                f"{where}: methods.{name}.seeds {sorted(extra)} are not in seeds {spec.seeds}"
            )
    for entry in spec.exclude:
        if not entry:
            raise ConfigError(f"{where}: exclude: an empty entry would exclude every run")


# ----------------------------------------------------------------------------- expansion


def _short_names(keys: Sequence[str]) -> dict[str, str]:
    """The last part of each dotted key, or the whole key where the last part is shared."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}


def format_value(value: Any) -> str:
    """A value as it appears in a run directory name (``0.04``, ``1e-06``, ``true``)."""
    if isinstance(value, bool) or value is None:
        return yaml.safe_dump(value).strip().removesuffix("...").strip()
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) else str(value)
    text = str(value)
    for bad in ("/", "\\", " ", ":"):
        text = text.replace(bad, "-")
    return text


def _override(key: str, value: Any) -> str:
    """``KEY=VALUE`` with the value in YAML flow style (what ``--set`` parses back)."""
    text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
    return f"{key}={text}"


def _cells(spec: SweepSpec) -> list[tuple[tuple[str, Any], ...]]:
    axes: list[list[tuple[tuple[str, Any], ...]]] = []
    for key, values in spec.grid.items():
        axes.append([((key, v),) for v in values])
    for keys in spec.zip.values():
        if isinstance(keys, list):  # rows, each with its own keys
            axes.append([tuple(row.items()) for row in keys])
            continue
        columns = list(keys.items())
        rows = zip(*(values for _, values in columns), strict=True)
        axes.append([tuple((k, v) for (k, _), v in zip(columns, row, strict=True)) for row in rows])
    return [tuple(kv for part in combo for kv in part) for combo in itertools.product(*axes)]


def _matches(entry: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    for key, wanted in entry.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        if key not in values or not any(same_value(values[key], o) for o in options):
            return False
    return True


def same_value(a: Any, b: Any) -> bool:
    """Equality of spec values, numbers compared as numbers (``0`` equals ``0.0``)."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool):
        return not isinstance(b, bool) and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    return a == b


def _slug(cell: Sequence[tuple[str, Any]], names: Mapping[str, str]) -> str:
    return ",".join(f"{names[k]}={format_value(v)}" for k, v in cell) or "default"


def expand(spec: SweepSpec, validate: bool = True) -> list[RunPlan]:
    """Every run of ``spec``: trainings first, deployments after the trainings they use.

    With ``validate`` each run's configuration is built once, so a bad key or value is
    reported (naming the run) before anything runs.
    """
    cells = _cells(spec)
    seed_key = spec.seed_key if spec.seeds is not None else None
    deploy_keys = [k for m in spec.methods.values() for k in (m.deploy or {})]
    cell_keys = [k for cell in cells for k, _ in cell]
    keys = list(dict.fromkeys([*cell_keys, seed_key or "", *deploy_keys]))
    names, order = _short_names(keys), {k: i for i, k in enumerate(keys)}
    fixed = [_override(k, v) for k, v in spec.set.items()]
    trained: dict[str, RunPlan] = {}
    runs: list[RunPlan] = []
    deploys: list[RunPlan] = []
    for name, method in spec.methods.items():
        label = method.label or name
        seeds = method.seeds if method.seeds is not None else (spec.seeds or [None])
        for cell, seed in itertools.product(cells, seeds):
            point = list(cell) + ([(seed_key, seed)] if seed_key else [])
            if any(_matches(e, dict(point) | {"method": name}) for e in spec.exclude):
                continue
            run = RunPlan(
                run_id=f"{name}/{_slug(point, names)}",
                method=name,
                kind="train" if method.deploy is None else "deploy",
                preset=spec.preset,
                overrides=(*fixed, *(_override(k, v) for k, v in point), *_sets(method.set)),
                cell=cell,
                seed=seed,
                label=label,
                values={**spec.set, **dict(point), **method.set},
                tuned=method.tuned,
            )
            if method.deploy is None:
                runs.append(run)
                continue
            # the training this deployment measures: the cell with the deploy keys replaced
            train_values = dict(point) | method.deploy
            train_point = sorted(train_values.items(), key=lambda kv: order[kv[0]])
            training = RunPlan(
                run_id=f"{name}.trained/{_slug(train_point, names)}",
                method=f"{name}.trained",
                kind="train",
                preset=spec.preset,
                overrides=(*fixed, *(_override(k, v) for k, v in train_point), *_sets(method.set)),
                cell=tuple((k, v) for k, v in train_point if k != seed_key),
                seed=dict(train_point).get(seed_key) if seed_key else None,
                label=f"{label} (training)",
                values={**spec.set, **dict(train_point), **method.set},
                tuned=method.tuned,
            )
            trained.setdefault(training.run_id, training)
            deploys.append(dataclasses.replace(run, trained=training.run_id))
    plans = [*trained.values(), *runs, *deploys]
    seen: set[str] = set()
    for plan in plans:
        if plan.run_id in seen:
            raise ConfigError(f"two runs of the sweep share the directory {plan.run_id}")
        seen.add(plan.run_id)
    if not plans:
        raise ConfigError("the sweep has no runs (every run is excluded)")
    if validate:
        validate_plans(plans)
    return plans


def _sets(keys: Mapping[str, Any]) -> list[str]:
    return [_override(k, v) for k, v in keys.items()]


def validate_plans(plans: Sequence[RunPlan]) -> None:
    """Build every run's configuration once; the first bad one is reported with its run."""
    for preset in {plan.preset for plan in plans if plan.preset is not None}:
        resolve_config_path(preset)
    for plan in plans:
        try:
            load_config(plan.preset, plan.overrides)
        except ConfigError as exc:
            raise ConfigError(f"run {plan.run_id}: {exc}") from None
