"""Diffractive PNN experiments: one joint error set over several error seeds, accuracy versus
error magnitude per error type, and the error-accumulation experiment (accuracy versus number
of layers).

    # joint errors of a preset, error seeds 0 and 1: error-free, DD, PAT, DAT w/o and w/ IS
    python benchmarks/dpnn_experiments.py joint --data-root ../shared/data \
        --preset dpnn-cpu-errors --seeds 0,1 --set data.train_samples=5000 --jobs 2

    # accuracy vs number of layers (1..7) at a fixed per-layer error (preset dpnn-cpu-depth),
    # DD over error seeds 0-5, DAT w/ IS on error seed 0
    python benchmarks/dpnn_experiments.py depth --data-root ../shared/data \
        --layers 1,2,3,4,5,6,7 --seeds 0,1,2,3,4,5 --dat-seeds 0 --jobs 2
    # the same models deployed at twice the per-layer error (direct deployment only)
    python benchmarks/dpnn_experiments.py depth --data-root ../shared/data \
        --seeds 0,1,2 --dat-seeds '' --error-scale 2

    # accuracy vs magnitude of each error type, DD / PAT / DAT w/o IS / DAT w/ IS
    python benchmarks/dpnn_experiments.py errors --data-root ../shared/data \
        --types shift_std,distance_std,pixel_phase_std,fringing_sigma --seeds 0 --jobs 2
    # the same for every error type, direct deployment only (no training per magnitude)
    python benchmarks/dpnn_experiments.py errors --data-root ../shared/data --methods ''

They start from the ``dpnn-cpu`` preset (5 masks of 64 x 64 neurons, 8 um, 532 nm, 5 mm),
depth from ``dpnn-cpu-depth`` (the same geometry, random-phase masks, a fixed per-layer error;
``--preset`` chooses another for depth and joint); ``--set KEY=VALUE`` adjusts every run
(e.g. ``data.train_samples=5000``, ``train.epochs=6``). Runs are resumable (finished run
directories and deployments are reused). Test accuracy on the physical system, mean +- std
over error seeds; model selection on the validation split.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from photonic_dat.config.loading import load_config
from photonic_dat.experiments.sweep import Job, deploy_jobs, mean_spread, run_jobs

PRESET = "dpnn-cpu"
DEPTH_PRESET = "dpnn-cpu-depth"
#: per-type magnitudes (SI units) for the error sweep, from small to large
MAGNITUDES = {
    "shift_std": (2e-6, 5e-6, 10e-6),
    "distance_std": (1e-4, 3e-4, 1e-3),
    "rotation_std": (1e-3, 3e-3, 1e-2),
    "phase_gain_std": (0.03, 0.1, 0.2),
    "pixel_phase_std": (0.1, 0.3, 0.6),
    "fringing_sigma": (2e-6, 5e-6, 10e-6),
    "illumination_tilt_std": (1e-4, 3e-4, 1e-3),
}
METHODS = ("pat", "dat-none", "dat-unitary")


def _items(text: str, kind=str) -> list:
    """A comma-separated option as a list (empty entries dropped: '' is no items)."""
    return [kind(v) for v in text.split(",") if v]


def _no_errors() -> list[str]:
    """Overrides that switch every systematic error of the preset off."""
    zero = load_config(None).errors  # schema defaults: DPNN errors off
    names = [n for n in MAGNITUDES] + ["phase_gamma_std", "phase_levels", "illumination_waist"]
    return [
        f"errors.{n}={getattr(zero, n) if getattr(zero, n) is not None else 'null'}" for n in names
    ]


def _method(spec: str) -> list[str]:
    method, _, mode = spec.partition("-")
    return [f"method={method}"] + ([f"dat.internal_states={mode}"] if mode else [])


#: error magnitudes that ``--error-scale`` multiplies (the quantisation levels and the
#: illumination waist stay as the preset has them)
SCALED = (*MAGNITUDES, "phase_gamma_std")


def _scaled_errors(preset: str, common: list[str], scale: float) -> list[str]:
    """Overrides that multiply every error magnitude of the preset by ``scale``."""
    if scale == 1.0:
        return []
    if scale < 0:
        raise SystemExit(f"--error-scale must be >= 0, got {scale}")
    errors = load_config(preset, common).errors
    return [f"errors.{n}={getattr(errors, n) * scale:.4g}" for n in SCALED]


def depth(args, common: list[str]) -> None:
    out = Path(args.out)
    preset = args.preset or DEPTH_PRESET
    layers = _items(args.layers, int)
    seeds = _items(args.seeds, int)
    dat_seeds = seeds if args.dat_seeds is None else _items(args.dat_seeds, int)
    # in-silico models do not depend on the errors: every error scale shares them
    errs = _scaled_errors(preset, common, args.error_scale)
    tag = "" if args.error_scale == 1.0 else f"-x{args.error_scale:g}"
    train: dict[tuple, Job] = {}
    for n in layers:
        base = [*common, f"dpnn.layers={n}"]
        train[(n, "insilico")] = Job(
            preset, (*base, *_method("insilico")), str(out / f"L{n}" / "insilico")
        )
        for s in dat_seeds:
            job = Job(
                preset,
                (*base, *errs, f"errors.seed={s}", *_method("dat-unitary")),
                str(out / f"L{n}" / f"seed{s}" / f"dat-unitary{tag}"),
            )
            train[(n, s, "dat")] = job
    results = dict(zip(train, run_jobs(list(train.values()), args.jobs), strict=True))
    deploys = {
        (n, s, "dd"): (
            Job(
                preset,
                (*common, f"dpnn.layers={n}", *errs, f"errors.seed={s}", *_method("insilico")),
                str(out / f"L{n}" / f"seed{s}" / f"dd{tag}"),
            ),
            train[(n, "insilico")].run_dir,
        )
        for n in layers
        for s in seeds
    }
    results.update(zip(deploys, deploy_jobs(list(deploys.values()), args.jobs), strict=True))
    # DD on the DAT's error seeds too: the pairs compare the two methods on the same devices
    paired = [s for s in dat_seeds if s in seeds]
    scale = f", errors x {args.error_scale:g}" if tag else ""
    print(f"preset {preset}{scale}; test accuracy on the device, mean +- std over error seeds")
    print(
        f"layers | ideal twin | DD (seeds {seeds}) | DD (seeds {paired}) "
        f"| DAT w/ IS (seeds {dat_seeds})"
    )
    print("---|---|---|---|---")
    for n in layers:
        ideal = results[(n, "insilico")]["test_accuracy_twin"]
        dd = [results[(n, s, "dd")]["test_accuracy_physical"] for s in seeds]
        dd_paired = [results[(n, s, "dd")]["test_accuracy_physical"] for s in paired]
        dat = [results[(n, s, "dat")]["test_accuracy_physical"] for s in dat_seeds]
        cells = [mean_spread(dd), mean_spread(dd_paired), mean_spread(dat)]
        print(f"{n} | {100 * ideal:.1f} | " + " | ".join(cells))


def joint(args, common: list[str]) -> None:
    """One preset's joint error set, several error seeds: error-free, DD, PAT, DAT."""
    out = Path(args.out)
    preset = args.preset or PRESET
    seeds = _items(args.seeds, int)
    methods = _items(args.methods)
    ideal = Job(preset, (*common, *_method("insilico")), str(out / "insilico"))
    train: dict[tuple, Job] = {("insilico",): ideal}
    for s in seeds:
        for spec in methods:
            over = (*common, f"errors.seed={s}", *_method(spec))
            train[(s, spec)] = Job(preset, over, str(out / f"seed{s}" / spec))
    results = dict(zip(train, run_jobs(list(train.values()), args.jobs), strict=True))
    deploys = {
        (s, "dd"): (
            Job(
                preset,
                (*common, f"errors.seed={s}", *_method("insilico")),
                str(out / f"seed{s}" / "dd"),
            ),
            ideal.run_dir,
        )
        for s in seeds
    }
    results.update(zip(deploys, deploy_jobs(list(deploys.values()), args.jobs), strict=True))
    free = results[("insilico",)]["test_accuracy_twin"]
    print(f"preset {preset}, error seeds {seeds}; test accuracy on the simulated device")
    print("method | " + " | ".join(f"seed {s}" for s in seeds) + " | mean +- std")
    print("---|" + "---|" * len(seeds) + "---")
    print("error-free (in silico, ideal twin) | " + f"{100 * free:.1f} | " * len(seeds) + "-")
    for spec in ("dd", *methods):
        values = [results[(s, spec)]["test_accuracy_physical"] for s in seeds]
        cells = " | ".join(f"{100 * v:.1f}" for v in values)
        print(f"{spec} | {cells} | {mean_spread(values)}")


def errors(args, common: list[str]) -> None:
    out = Path(args.out)
    seeds = _items(args.seeds, int)
    types = _items(args.types)
    methods = _items(args.methods)
    unknown = [t for t in types if t not in MAGNITUDES]
    if unknown:
        raise SystemExit(f"unknown error types {unknown}; choose from {', '.join(MAGNITUDES)}")
    keep = set(_items(args.magnitudes, float))
    mags = {t: [m for m in MAGNITUDES[t] if not keep or m in keep] for t in types}
    if keep - {m for t in types for m in MAGNITUDES[t]}:
        raise SystemExit(
            f"--magnitudes {sorted(keep)}: not all in the swept values of {types}: "
            + "; ".join(f"{t} {MAGNITUDES[t]}" for t in types)
        )
    clean = [*common, *_no_errors()]
    ideal = Job(PRESET, (*clean, *_method("insilico")), str(out / "insilico"))
    train: dict[tuple, Job] = {("insilico",): ideal}
    for t in types:
        for m in mags[t]:
            for s in seeds:
                for spec in methods:
                    over = (*clean, f"errors.{t}={m}", f"errors.seed={s}", *_method(spec))
                    train[(t, m, s, spec)] = Job(
                        PRESET, over, str(out / t / f"{m:g}" / f"seed{s}" / spec)
                    )
    results = dict(zip(train, run_jobs(list(train.values()), args.jobs), strict=True))
    deploys = {
        (t, m, s, "dd"): (
            Job(
                PRESET,
                (*clean, f"errors.{t}={m}", f"errors.seed={s}", *_method("insilico")),
                str(out / t / f"{m:g}" / f"seed{s}" / "dd"),
            ),
            ideal.run_dir,
        )
        for t in types
        for m in mags[t]
        for s in seeds
    }
    results.update(zip(deploys, deploy_jobs(list(deploys.values()), args.jobs), strict=True))
    print(f"ideal (no errors): {100 * results[('insilico',)]['test_accuracy_physical']:.1f} %")
    names = {"pat": "PAT", "dat-none": "DAT w/o IS", "dat-unitary": "DAT w/ IS"}
    print(" | ".join(["error", "magnitude (SI)", "DD", *(names.get(m, m) for m in methods)]))
    print("---|---|---" + "|---" * len(methods))
    for t in types:
        for m in mags[t]:
            cells = [
                mean_spread([results[(t, m, s, spec)]["test_accuracy_physical"] for s in seeds])
                for spec in ("dd", *methods)
            ]
            print(f"{t} | {m:g} | " + " | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("experiment", choices=("depth", "errors", "joint"))
    parser.add_argument("--data-root", required=True, help="folder with mnist/")
    parser.add_argument("--layers", default="1,2,3,4,5,6,7")
    parser.add_argument("--types", default=",".join(MAGNITUDES))
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument(
        "--dat-seeds",
        default=None,
        help="depth: error seeds of the DAT runs (default --seeds; '' for direct deployment only)",
    )
    parser.add_argument(
        "--preset",
        default=None,
        help=f"depth, joint: the preset every run starts from ({DEPTH_PRESET}, {PRESET})",
    )
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help="joint, errors: trained methods besides DD ('' for direct deployment only)",
    )
    parser.add_argument(
        "--magnitudes", default="", help="errors: only these magnitudes (e.g. 5e-6), default all"
    )
    parser.add_argument(
        "--error-scale",
        type=float,
        default=1.0,
        help="depth: multiply every error magnitude of the preset (e.g. 0.5, 2)",
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=None)
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE for every run")
    args = parser.parse_args()
    args.out = args.out or f"bench-out/dpnn-{args.experiment}"
    common = [f"data.root={Path(args.data_root) / 'mnist'}", *args.set]
    {"depth": depth, "errors": errors, "joint": joint}[args.experiment](args, common)


if __name__ == "__main__":
    main()
