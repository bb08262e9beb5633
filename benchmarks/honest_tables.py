"""The tables of benchmarks/README.md ("Honest comparisons"): every method, tuned equally on a
tuning device's validation split, then measured once on devices never used before.

    # 1. tune every method on error seed 7 (writes the choice into the preset's tuned:)
    python benchmarks/honest_tables.py tune --family dpnn --data-root ../shared/data
    # 2. the joint-error table: error seeds 100-102, test accuracy on each device
    python benchmarks/honest_tables.py table --family dpnn --data-root ../shared/data
    # 3. accuracy vs number of masks, and vs error magnitude (x0.5 ... x2)
    python benchmarks/honest_tables.py table --family dpnn --layers 1,2,3,4,5,6,7 ...
    python benchmarks/honest_tables.py table --family dpnn --scales 0.5,1,1.5,2 ...
    # the MPNN (MNIST) table: --family mpnn

Direct deployment (DD) trains one in-silico model (selected on the twin's validation split)
per geometry and deploys it on every device; calibration, PAT and DAT train once per device.
Every run directory is kept and reused, so an interrupted command continues where it stopped.
Frames are every detector frame read for training and selection (probes, dark frames and
re-measured frames included); the test split is measured once per run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from photonic_dat.config.loading import apply_overrides, build_config, load_config
from photonic_dat.config.presets import preset_path
from photonic_dat.experiments.sweep import train_configs
from photonic_dat.experiments.tuning import (
    apply_tuned,
    load_tuning_spec,
    run_tuning,
    tuning_table,
    write_tuned_preset,
)

HERE = Path(__file__).parent
FAMILIES = {
    "dpnn": {"preset": "dpnn-cpu", "tuning": HERE / "specs" / "tune-dpnn.yaml"},
    "mpnn": {"preset": "mpnn-mnist-cpu", "tuning": HERE / "specs" / "tune-mpnn.yaml"},
}
METHODS = ("insilico", "calibration", "pat", "dat-none", "dat-unitary", "dat-unitary+cal")
LABELS = {
    "insilico": "direct deployment",
    "calibration": "calibration",
    "pat": "PAT",
    "dat-none": "DAT w/o IS",
    "dat-unitary": "DAT w/ IS",
    "dat-unitary+cal": "DAT w/ IS from calibration",
}
#: error magnitudes scaled by --scales (the rest are fixed device properties)
SCALED = (
    "bs_std",
    "ps_std",
    "shift_std",
    "rotation_std",
    "distance_std",
    "phase_gain_std",
    "phase_gamma_std",
    "pixel_phase_std",
    "fringing_sigma",
    "illumination_tilt_std",
)


def _items(text: str, kind=str) -> list:
    return [kind(v) for v in text.split(",") if v.strip()]


def _with(config, overrides):
    return build_config(apply_overrides(config.model_dump(mode="json"), overrides))


def _scale_overrides(config, scale: float) -> list[str]:
    errors = config.errors.model_dump()
    return [f"errors.{k}={errors[k] * scale!r}" for k in SCALED if errors.get(k)]


def _deploy(args):
    trained, config, out = args
    path = Path(out) / "result.json"
    if path.is_file():
        return json.loads(path.read_text())
    import torch

    torch.set_num_threads(1)
    from photonic_dat.io import atomic_write_text
    from photonic_dat.training.run import deploy_run

    result = deploy_run(Path(trained), config)
    atomic_write_text(path, json.dumps(result, indent=2))
    return result


def cmd_tune(args) -> None:
    family = FAMILIES[args.family]
    base = load_config(family["preset"], _common(args))
    spec = load_tuning_spec(family["tuning"])
    out = Path(args.out) / args.family / "tuning"
    record = run_tuning(base, spec, out, lambda pairs: train_configs(pairs, workers=args.jobs))
    print(tuning_table(record))
    if args.write_preset:
        path = preset_path(family["preset"])
        write_tuned_preset(load_config(path), record, path, header_from=path)
        print(f"tuned: written into {path}")


def _common(args) -> list[str]:
    common = [*args.set, "train.progress=false"]
    if args.data_root:
        common.append(f"data.root={args.data_root}")
    return common


def cmd_table(args) -> None:
    family = FAMILIES[args.family]
    base = load_config(family["preset"], _common(args))
    if not base.tuned:
        print(f"warning: {family['preset']} has no tuned: section; run `tune` first")
    seeds = _items(args.seeds, int)
    methods = _items(args.methods)
    variants = [("layers", v) for v in _items(args.layers, int)] or [("layers", None)]
    scales = _items(args.scales, float) or [1.0]
    root = Path(args.out) / args.family
    rows = []
    for _, layers in variants:
        for scale in scales:
            geometry = [f"dpnn.layers={layers}"] if layers is not None else []
            name = f"L{layers}" if layers is not None else "base"
            cell = _with(base, geometry)
            device = _scale_overrides(cell, scale)
            cell_dir = root / f"{name}-x{scale:g}"
            trains, deploys = [], []
            # direct deployment: one in-silico model per geometry (device-independent; its test
            # accuracy is measured on each device below, the twin's with it)
            dd_dir = root / f"{name}-insilico"
            dd = _with(apply_tuned(cell, "insilico"), ["train.measure_test=false"])
            trains.append((dd, dd_dir))
            for seed in seeds:
                for method in methods:
                    if method == "insilico":
                        cfg = _with(apply_tuned(cell, "insilico"), [*device, f"errors.seed={seed}"])
                        deploys.append((str(dd_dir), cfg, str(cell_dir / f"dd-{seed}")))
                        continue
                    cfg = _with(apply_tuned(cell, method), [*device, f"errors.seed={seed}"])
                    trains.append((cfg, cell_dir / f"{method}-{seed}"))
            results = train_configs(trains, workers=args.jobs)
            if args.jobs > 1:
                with ProcessPoolExecutor(args.jobs) as pool:
                    deployed = list(pool.map(_deploy, deploys))
            else:
                deployed = [_deploy(d) for d in deploys]
            by_method: dict[str, list[dict]] = {m: [] for m in methods}
            for d in deployed:
                by_method["insilico"].append({**d, "physical_frames": 0})
            for (_, path), r in zip(trains[1:], results[1:], strict=True):
                method = path.name.rsplit("-", 1)[0]
                by_method[method].append(r)
            twin = statistics.fmean(d["test_accuracy_twin"] for d in deployed) if deployed else None
            rows.append((name, scale, twin, by_method))
    print(_markdown(rows, seeds))


def _mean_std(values) -> str:
    if not values:
        return "-"
    mean = 100 * statistics.fmean(values)
    spread = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.1f} +- {spread:.1f}"


def _markdown(rows, seeds) -> str:
    lines = [
        f"Test accuracy on the device (%), mean +- std over error seeds {seeds}; frames per "
        "run (training and selection, all planes).",
        "",
        "| geometry | errors | ideal twin | method | test accuracy | per seed | frames |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, scale, twin, by_method in rows:
        for method, results in by_method.items():
            acc = [r["test_accuracy_physical"] for r in results]
            per_seed = " / ".join(f"{100 * a:.1f}" for a in acc)
            frames = statistics.fmean(r.get("physical_frames") or 0 for r in results)
            lines.append(
                f"| {name} | x{scale:g} | {'-' if twin is None else f'{100 * twin:.1f}'} | "
                f"{LABELS.get(method, method)} | {_mean_std(acc)} | {per_seed} | {frames:,.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("tune", "table"):
        p = sub.add_parser(name)
        p.add_argument("--family", choices=sorted(FAMILIES), required=True)
        p.add_argument("--data-root", default=os.environ.get("PHOTONIC_DAT_DATA"))
        p.add_argument("--set", action="append", default=[], help="KEY=VALUE for every run")
        p.add_argument("--out", default="bench-out/honest")
        p.add_argument("--jobs", type=int, default=2)
    sub.choices["tune"].add_argument("--write-preset", action="store_true")
    t = sub.choices["table"]
    t.add_argument("--seeds", default="100,101,102")
    t.add_argument("--methods", default=",".join(METHODS))
    t.add_argument("--layers", default="", help="e.g. 1,2,3,4,5,6,7 (DPNN)")
    t.add_argument("--scales", default="", help="error magnitude factors, e.g. 0.5,1,1.5,2")
    args = parser.parse_args()
    {"tune": cmd_tune, "table": cmd_table}[args.command](args)


if __name__ == "__main__":
    main()
