"""The report of a sweep directory: one row per run, tables over seeds, figures.

:func:`write_report` writes, atomically, into the sweep directory:

* ``summary.csv`` / ``summary.json`` - one row per run: its method, grid values and seed,
  state, accuracies (fractions), physical queries, frames (total and per plane), seconds,
  attempts and last error;
* ``report.md`` - test accuracy on the physical system in %, mean +- std over seeds for each
  cell and method, next to the published figure where the spec's ``reference`` gives one,
  then the failed runs;
* ``figures/accuracy_vs_error.png`` (accuracy against error magnitude for each method),
  ``figures/accuracy_vs_depth.png`` (against depth, when the sweep varies it) and
  ``figures/accuracy_vs_frames.png`` (validation accuracy against physical frames spent).
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from photonic_dat.experiments.spec import DEPTH_KEYS, RunPlan, SweepSpec, parse_spec, same_value
from photonic_dat.experiments.sweep import RUNS, load_plans, run_dir_of, run_state
from photonic_dat.io import atomic_write_text

FIGURES = "figures"
ACCURACY = "test_accuracy_physical"
FIGURES_NUMBERS = (
    "test_accuracy_physical",
    "test_accuracy_twin",
    "val_accuracy_physical",
    "physical_queries",
    "physical_frames",
    "parameter_uploads",
    "train_seconds",
    "best_epoch",
)


@dataclass
class RunRecord:
    """A run of the sweep with what its directory holds."""

    plan: RunPlan
    state: str
    result: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accuracy(self) -> float | None:
        value = self.result.get(ACCURACY)
        return float(value) if value is not None else None

    @property
    def reported(self) -> bool:
        """Whether the run is one of the sweep's cells (not the training of a deployment)."""
        return not self.plan.method.endswith(".trained")


def mean_spread(values: Sequence[float]) -> str:
    """``mean +- std`` in percent (std over seeds; 0 for one value), ``-`` for none."""
    if not values:
        return "-"
    mean = 100 * statistics.fmean(values)
    spread = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.1f} +- {spread:.1f}"


def load_spec_of(root: Path) -> SweepSpec:
    path = root / "spec.yaml"
    data = yaml.safe_load(path.read_text()) if path.is_file() else {"methods": ["unknown"]}
    return parse_spec(data, str(path))


def collect(root: Path) -> list[RunRecord]:
    records = []
    for plan in load_plans(root):
        state, status = run_state(root, plan)
        run_dir = run_dir_of(root / RUNS, plan)
        result, history = {}, []
        if state == "done":
            result = json.loads((run_dir / "result.json").read_text())
            metrics = run_dir / "metrics.jsonl"
            if metrics.is_file():
                history = [json.loads(line) for line in metrics.read_text().splitlines() if line]
        records.append(RunRecord(plan, state, result, status, history))
    failed = {r.plan.run_id for r in records if r.state == "failed"}
    for r in records:
        if r.state == "pending" and r.plan.trained in failed:
            r.state = "blocked"  # the training it deploys failed
    return records


# ----------------------------------------------------------------------------- summary


def _axis_keys(records: Sequence[RunRecord]) -> list[str]:
    return list(dict.fromkeys(k for r in records for k, _ in r.plan.cell))


def summary_rows(records: Sequence[RunRecord], seed_key: str) -> list[dict[str, Any]]:
    keys = _axis_keys(records)
    rows = []
    for r in records:
        cell = dict(r.plan.cell)
        attempts = r.status.get("attempts", [])
        row: dict[str, Any] = {
            "run_id": r.plan.run_id,
            "method": r.plan.method,
            "label": r.plan.label,
            "kind": r.plan.kind,
            "state": r.state,
            **{k: cell.get(k) for k in keys},
            seed_key: r.plan.seed,
            **{k: r.result.get(k) for k in FIGURES_NUMBERS},
            **{f"frames.{plane}": n for plane, n in (r.result.get("frames") or {}).items()},
            "attempts": len(attempts),
            "error": r.status.get("error") if r.state != "done" else None,
            "trained": r.plan.trained,
        }
        rows.append(row)
    return rows


def write_summary(rows: Sequence[Mapping[str, Any]], root: Path) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(root / "summary.csv", buf.getvalue())
    atomic_write_text(root / "summary.json", json.dumps(list(rows), indent=2))


# ----------------------------------------------------------------------------- tables


def _cells(records: Sequence[RunRecord]) -> list[tuple[tuple[str, Any], ...]]:
    return list(dict.fromkeys(r.plan.cell for r in records if r.reported))


def _methods(records: Sequence[RunRecord]) -> list[str]:
    """The methods of the cells, in the order the records list them (the spec's order)."""
    return list(dict.fromkeys(r.plan.method for r in records if r.reported))


def _labels(records: Sequence[RunRecord]) -> dict[str, str]:
    return {r.plan.method: r.plan.label or r.plan.method for r in records if r.reported}


def reference_value(spec: SweepSpec, values: Mapping[str, Any], method: str) -> float | None:
    """The published figure (%) for a run with ``values`` and ``method``, if the spec has one."""
    for row in spec.reference.rows:
        if method not in row:
            continue
        keys = {k: v for k, v in row.items() if k not in spec.methods}
        if all(k in values and same_value(values[k], v) for k, v in keys.items()):
            return float(row[method])
    return None


def group(records: Sequence[RunRecord]) -> dict[tuple, dict[str, list[RunRecord]]]:
    """Finished cell runs by cell, then method."""
    out: dict[tuple, dict[str, list[RunRecord]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.reported and r.state == "done" and r.accuracy is not None:
            out[r.plan.cell][r.plan.method].append(r)
    return out


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def accuracy_table(records: Sequence[RunRecord], spec: SweepSpec) -> str:
    """Rows: cells; columns: methods (physical test accuracy, %), then for each deploying
    method the ideal twin's accuracy of the model it deploys (the error-free figure)."""
    keys = _axis_keys([r for r in records if r.reported])
    methods, labels = _methods(records), _labels(records)
    deployed = list(dict.fromkeys(r.plan.method for r in records if r.plan.kind == "deploy"))
    grouped = group(records)
    seeds = {r.plan.seed for r in records if r.reported}
    head = [*keys, *(labels[m] for m in methods), *(f"{labels[m]}: ideal twin" for m in deployed)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cell in _cells(records):
        cell_values = dict(cell)
        cells = [_fmt(cell_values[k]) if k in cell_values else "" for k in keys]
        for method in methods:
            runs = grouped.get(cell, {}).get(method, [])
            text = mean_spread([r.accuracy for r in runs])
            if len(seeds) > 1 and runs:
                text += f" ({len(runs)})"
            values = next((r.plan.values for r in records if r.plan.cell == cell), {})
            paper = reference_value(spec, {**values, **cell_values}, method)
            if paper is not None:
                text += f" / {paper:.1f}"
            cells.append(text)
        for method in deployed:
            runs = grouped.get(cell, {}).get(method, [])
            cells.append(mean_spread([r.result["test_accuracy_twin"] for r in runs]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_markdown(records: Sequence[RunRecord], spec: SweepSpec, figures: Sequence[str]) -> str:
    states = defaultdict(int)
    for r in records:
        states[r.state] += 1
    counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    seeds = sorted({r.plan.seed for r in records if r.reported}, key=str)
    source = spec.reference.source or "the spec's reference"
    lines = [
        f"# Sweep `{spec.name}`",
        "",
        f"Preset `{spec.preset}`; {len(records)} runs: {counts}.",
        "",
        "Test accuracy on the physical system, %, "
        + (
            f"mean +- std over `{spec.seed_key}` {seeds} (runs in brackets)"
            if len(seeds) > 1
            else "one run per cell"
        )
        + (f"; after `/` the published figure ({source})." if spec.reference.rows else "."),
        "",
        accuracy_table(records, spec),
    ]
    failed = [r for r in records if r.state == "failed"]
    if failed:
        lines += ["", "## Failed runs", ""]
        for r in failed:
            attempts = len(r.status.get("attempts", []))
            lines.append(f"- `{r.plan.run_id}` ({attempts} attempts): {r.status.get('error')}")
    interrupted = [r for r in records if r.state == "interrupted"]
    if interrupted:
        lines += [
            "",
            "## Interrupted runs (the next call continues them from their checkpoint)",
            "",
        ]
        lines += [f"- `{r.plan.run_id}`" for r in interrupted]
    if figures:
        lines += ["", "## Figures", ""]
        lines += [f"![{Path(f).stem}]({f})" for f in figures]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- figures


def _varying(records: Sequence[RunRecord], keys: Sequence[str]) -> list[str]:
    """The ``keys`` whose value differs between cells (absent counts as a value)."""
    out = []
    for key in keys:
        values = {json.dumps(dict(r.plan.cell).get(key, "-")) for r in records if r.reported}
        if len(values) > 1:
            out.append(key)
    return out


def _panel_title(key: tuple) -> str:
    return ", ".join(f"{k.rsplit('.', 1)[-1]} {_fmt(v)}" for k, v in key) or "all runs"


def _grid(n: int) -> tuple[int, int]:
    cols = min(n, 4 if n > 6 else 3 if n > 4 else n)
    return math.ceil(n / cols), cols


def _x_of(record: RunRecord, x_keys: Sequence[str]) -> tuple[tuple[str, ...], tuple]:
    """The ``x_keys`` a run's cell sets (its x axis) and their values."""
    cell = dict(record.plan.cell)
    keys = tuple(k for k in x_keys if k in cell)
    return keys, tuple(cell[k] for k in keys)


def panel_x_values(xs: Iterable[tuple], keys: Sequence[str]) -> tuple[list[tuple], bool]:
    """A panel's x values and whether the axis is numeric: one numeric key in increasing
    order; the settings of a zipped group (several keys) in the order the spec gives them,
    which is the order of the paper's table rows."""
    xs = list(dict.fromkeys(xs))
    numeric = len(keys) == 1 and all(
        isinstance(x[0], int | float) and not isinstance(x[0], bool) for x in xs
    )
    return (sorted(xs, key=_sort_key) if numeric else xs), numeric


def _line_figure(
    records: Sequence[RunRecord],
    spec: SweepSpec,
    x_keys: Sequence[str],
    xlabel: str,
    path: Path,
) -> None:
    """Accuracy (mean +- std over seeds) against the values of ``x_keys`` for each method;
    one panel per combination of the other axes and of the ``x_keys`` a cell sets (a zip
    group of rows, one error type each, gives one panel per type); published figures as
    open markers."""
    from matplotlib.figure import Figure

    from photonic_dat.report.plots import save_figure

    panels: dict[tuple, list[tuple[RunRecord, tuple]]] = defaultdict(list)
    for r in records:
        if r.reported:
            keys, x = _x_of(r, x_keys)
            other = tuple((k, v) for k, v in r.plan.cell if k not in x_keys)
            panels[(other, keys)].append((r, x))
    methods, labels = _methods(records), _labels(records)
    rows, cols = _grid(len(panels))
    fig = Figure(figsize=(max(5.0, 4.4 * cols), 3.4 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, ((other, keys), panel) in zip(axes, panels.items(), strict=False):
        xs, numeric = panel_x_values([x for _, x in panel], keys)
        position = {x: (x[0] if numeric else i) for i, x in enumerate(xs)}
        values = panel[0][0].plan.values
        for i, method in enumerate(methods):
            points, refs = [], []
            for x in xs:
                accs = [
                    100 * r.accuracy
                    for r, rx in panel
                    if r.plan.method == method and rx == x and r.accuracy is not None
                ]
                if accs:
                    spread = statistics.stdev(accs) if len(accs) > 1 else 0.0
                    points.append((position[x], statistics.fmean(accs), spread))
                where = {**values, **dict(other), **dict(zip(keys, x, strict=True))}
                paper = reference_value(spec, where, method)
                if paper is not None:
                    refs.append((position[x], paper))
            color = f"C{i % 10}"
            if points:
                px, py, pe = zip(*sorted(points), strict=True)
                ax.errorbar(px, py, yerr=pe, marker="o", ms=4, capsize=3, color=color,
                            label=labels[method])  # fmt: skip
            if refs:
                rx, ry = zip(*sorted(refs), strict=True)
                ax.plot(rx, ry, ls="--", marker="s", mfc="none", color=color, alpha=0.7,
                        label=f"{labels[method]} (paper)")  # fmt: skip
        if not numeric:
            ax.set_xticks(range(len(xs)))
            ax.set_xticklabels(["\n".join(_fmt(v) for v in x) for x in xs], fontsize=7)
        elif all(isinstance(x[0], int) for x in xs):  # depths, levels: whole numbers only
            ax.set_xticks([x[0] for x in xs])
        names = " / ".join(k.rsplit(".", 1)[-1] for k in keys)
        ax.set_xlabel(f"{xlabel} ({names})" if names else xlabel)
        ax.set_ylabel("test accuracy on the device (%)")
        if len(panels) > 1:  # the other axes' values, or which error a panel varies
            ax.set_title(_panel_title(other) if other else names, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    _legend(fig, axes, cols)
    save_figure(fig, path)


def _sort_key(values: tuple) -> tuple:
    """Numbers in order, then everything else by its text."""
    return tuple(
        (0, float(v), "")
        if isinstance(v, int | float) and not isinstance(v, bool)
        else (1, 0.0, str(v))
        for v in values
    )


def _legend(fig, axes, cols: int) -> None:
    """One legend under the panels: the sweep's curves first, then published figures."""
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(name, handle)
    names = sorted(entries, key=lambda n: n.endswith("(paper)"))
    if names:
        fig.legend(
            [entries[n] for n in names], names, loc="outside lower center",
            ncol=min(2 * cols, len(names)), fontsize=8,
        )  # fmt: skip


def _mean_curve(runs: Sequence[RunRecord]) -> tuple[list[float], list[float]] | None:
    """Mean (over seeds) cumulative physical frames and validation accuracy per epoch."""
    curves = [
        [(h.get("physical_frames"), h.get("val_accuracy_physical")) for h in r.history]
        for r in runs
    ]
    curves = [c for c in curves if c and all(f is not None and a is not None for f, a in c)]
    if not curves:
        return None
    n = min(len(c) for c in curves)
    frames = [statistics.fmean(c[i][0] for c in curves) for i in range(n)]
    acc = [100 * statistics.fmean(c[i][1] for c in curves) for i in range(n)]
    return frames, acc


def _spends_frames(runs_per_method: Iterable[Sequence[RunRecord]]) -> bool:
    """Whether any of these runs measured the device while training."""
    return any(
        (curve := _mean_curve(runs)) is not None and max(curve[0]) > 0 for runs in runs_per_method
    )


def _frames_figure(records: Sequence[RunRecord], path: Path, max_panels: int = 16) -> bool:
    """Validation accuracy on the device against physical frames spent, per cell and method;
    methods that never measure while training (direct deployment) as a level line. Cells
    where no method measured anything (only direct deployment) get no panel; returns whether
    there was anything to draw."""
    from matplotlib.figure import Figure

    from photonic_dat.report.plots import save_figure

    grouped = group(records)
    spending = [c for c in grouped if _spends_frames(grouped[c].values())]
    cells = spending[:max_panels]
    if not cells:
        return False
    methods, labels = _methods(records), _labels(records)
    rows, cols = _grid(len(cells))
    fig = Figure(figsize=(max(5.0, 4.4 * cols), 3.4 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, cell in zip(axes, cells, strict=False):
        for i, method in enumerate(methods):
            runs = grouped[cell].get(method, [])
            if not runs:
                continue
            color = f"C{i % 10}"
            curve = _mean_curve(runs)
            if curve is not None and max(curve[0]) > 0:
                ax.plot(*curve, marker=".", ms=3, color=color, label=labels[method])
            else:  # measures nothing while training: its validation accuracy when deployed
                vals = [r.result.get("val_accuracy_physical") for r in runs]
                vals = [v for v in vals if v is not None]
                if vals:
                    level = 100 * statistics.fmean(vals)
                    ax.axhline(level, ls=":", color=color, label=f"{labels[method]} (no frames)")
        ax.set_xscale("log")
        ax.set_xlabel("physical frames spent")
        ax.set_ylabel("validation accuracy on the device (%)")
        ax.set_title(_panel_title(cell), fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[len(cells) :]:
        ax.set_visible(False)
    _legend(fig, axes, cols)
    if len(spending) > max_panels:
        fig.suptitle(f"first {max_panels} of {len(spending)} cells", fontsize=9)
    save_figure(fig, path)
    return True


def draw_figures(records: Sequence[RunRecord], spec: SweepSpec, root: Path) -> list[str]:
    """Draw the figures the sweep's axes allow; returns their paths relative to ``root``."""
    done = [r for r in records if r.reported and r.state == "done"]
    if not done:
        return []
    keys = _axis_keys(done)
    out = []
    magnitude = spec.report.magnitude or _varying(
        done, [k for k in keys if k.startswith("errors.")]
    )
    if magnitude:
        _line_figure(
            done, spec, magnitude, "error magnitude", root / FIGURES / "accuracy_vs_error.png"
        )
        out.append(f"{FIGURES}/accuracy_vs_error.png")
    depth = [spec.report.depth] if spec.report.depth else _varying(done, DEPTH_KEYS)
    if depth:
        _line_figure(done, spec, depth[:1], "depth", root / FIGURES / "accuracy_vs_depth.png")
        out.append(f"{FIGURES}/accuracy_vs_depth.png")
    if _frames_figure(done, root / FIGURES / "accuracy_vs_frames.png"):
        out.append(f"{FIGURES}/accuracy_vs_frames.png")
    return out


def write_report(root: Path) -> Path:
    """Write the summary, ``report.md`` and the figures of the sweep in ``root``."""
    root = Path(root)
    spec = load_spec_of(root)
    order = {name: i for i, name in enumerate(spec.methods)}
    records = sorted(collect(root), key=lambda r: order.get(r.plan.method, len(order)))
    write_summary(summary_rows(records, spec.seed_key), root)
    figures = draw_figures(records, spec, root)
    path = root / "report.md"
    atomic_write_text(path, report_markdown(records, spec, figures))
    return path
