"""Summary tables of several runs: printed, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from photonic_dat.io import atomic_write_text

COLUMNS = (
    ("label", "method", "{}"),
    ("test_accuracy_physical", "test acc (physical)", "{:.4f}"),
    ("test_accuracy_twin", "test acc (twin)", "{:.4f}"),
    ("val_accuracy_physical", "val acc (physical)", "{:.4f}"),
    ("physical_queries", "samples", "{:,}"),
    ("physical_frames", "frames", "{:,}"),
    ("train_seconds", "train s", "{:.1f}"),
)


def format_table(rows: list[dict[str, Any]]) -> str:
    header = [title for _, title, _ in COLUMNS]
    body = [
        [fmt.format(r[key]) if r.get(key) is not None else "-" for key, _, fmt in COLUMNS]
        for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return "\n".join(lines)


def write_summary(rows: list[dict[str, Any]], directory: Path) -> tuple[Path, Path]:
    keys = [key for key, _, _ in COLUMNS] + ["internal_states", "run_dir"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    csv_path, json_path = directory / "summary.csv", directory / "summary.json"
    atomic_write_text(csv_path, buf.getvalue())
    atomic_write_text(json_path, json.dumps(rows, indent=2))
    return csv_path, json_path
