"""DAT on physics that others wrote: slmsuite's simulated SLM + camera and two crossbars.

For each system (the Fourier-plane PNN on slmsuite's SimulatedSLM + SimulatedCamera, our
simulated crossbar, IBM aihwkit's PCM crossbar; all on scikit-learn's digits through their
``-digits`` presets) and each method (in-silico training + direct deployment, PAT, DAT w/o
IS and, for the crossbars, DAT w/ IS) this script

1. ``tune``: trains every learning rate of a small grid (the same number per method) on
   *tuning* devices (error seeds not reported), never measuring the test split, and keeps
   per method the rate with the best mean validation accuracy (physical for PAT and DAT,
   the twin's for in-silico training, which never sees the device);
2. ``measure``: trains every method with its chosen rate on the reported device seeds
   (trainer seed = device seed), selection on validation, the test split measured once;
   results are kept per run (``result.json``) and reused when the script runs again;
3. ``table``: prints mean +- std over seeds of the error-free twin (the in-silico model on its
   own twin), DD, PAT and DAT, the share of the DD-to-twin gap each method closes, physical
   queries, frames and parameter uploads per run and seconds per epoch;
4. ``speed``: frames per second of the slmsuite simulated device and seconds per epoch of
   each family and method;
5. ``diagnose``: deploys each seed's in-silico model on devices with one error group at a
   time (all others off) to show which errors make the gap that DAT has to close;
6. ``decompose``: splits each crossbar's output error into its systematic part (learnable by
   an SEPN), the part redrawn at every programming and the part redrawn at every read.

Error sizes are the presets' (``photonic_dat.errors.crossbar`` and
``photonic_dat.errors.slm_lab`` give each with its source); nothing here changes them.

    nice -n 10 python benchmarks/analog_systems.py tune    --out runs/analog
    nice -n 10 python benchmarks/analog_systems.py measure --out runs/analog
    python benchmarks/analog_systems.py table --out runs/analog
    nice -n 10 python benchmarks/analog_systems.py speed
    nice -n 10 python benchmarks/analog_systems.py diagnose --out runs/analog
    nice -n 10 python benchmarks/analog_systems.py decompose --out runs/analog
    nice -n 10 python benchmarks/analog_systems.py measure --out runs/analog --systems aihwkit \
        --set errors.crossbar.t_inference=31536000 --tag 1-year
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from photonic_dat.config.factory import build_experiment  # noqa: E402
from photonic_dat.config.loading import load_config  # noqa: E402
from photonic_dat.experiments.compare import config_for  # noqa: E402
from photonic_dat.training.checkpoint import load_checkpoint, load_flat_state  # noqa: E402
from photonic_dat.training.loop import fit  # noqa: E402
from photonic_dat.training.run import deploy_run, train_run  # noqa: E402

#: system -> (preset, extra overrides, methods, learning-rate grid of the optical parameters)
SYSTEMS = {
    "slmsuite": ("slm-digits", [], ("insilico", "pat", "dat-none"), (0.02, 0.05, 0.1, 0.2)),
    "crossbar": (
        "crossbar-digits",
        [],
        ("insilico", "pat", "dat-none", "dat-unitary"),
        (0.003, 0.01, 0.03),
    ),
    "aihwkit": (
        "crossbar-digits",
        ["system.kind=aihwkit"],
        ("insilico", "pat", "dat-none", "dat-unitary"),
        (0.003, 0.01, 0.03),
    ),
}
LABELS = {
    "insilico": "DD",
    "pat": "PAT",
    "dat-none": "DAT w/o IS",
    "dat-unitary": "DAT w/ IS",
}


def _seeds(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def _config(system: str, method: str, seed: int, lr: float, extra: list[str]):
    preset, overrides, _, _ = SYSTEMS[system]
    base = load_config(
        preset,
        [
            *overrides,
            f"seed={seed}",
            f"errors.seed={seed}",
            f"train.lr={lr}",
            "train.threads=1",
            "train.progress=false",
            *extra,
        ],
    )
    return config_for(base, method)


def _run(run_dir: Path, cfg) -> dict:
    done = run_dir / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    start = time.perf_counter()
    result = train_run(cfg, run_dir)
    print(
        f"{run_dir}: val {result['best_val_accuracy']:.3f} "
        f"test {result.get('test_accuracy_physical')} ({time.perf_counter() - start:.0f} s)",
        flush=True,
    )
    return result


def tune(args) -> None:
    out = Path(args.out)
    chosen: dict[str, dict[str, float]] = {}
    record: dict[str, dict[str, dict[str, list[float]]]] = {}
    for system in args.systems.split(","):
        _, _, methods, grid = SYSTEMS[system]
        chosen[system], record[system] = {}, {}
        for method in methods:
            scores: dict[str, list[float]] = {}
            for lr in grid:
                for seed in _seeds(args.tune_seeds):
                    cfg = _config(system, method, seed, lr, ["train.measure_test=false"])
                    run_dir = out / "tune" / system / method / f"lr{lr}" / f"seed{seed}"
                    scores.setdefault(str(lr), []).append(_run(run_dir, cfg)["best_val_accuracy"])
            best = max(scores, key=lambda k: statistics.mean(scores[k]))
            chosen[system][method] = float(best)
            record[system][method] = scores
            print(f"{system} {method}: lr {best} (validation {scores})", flush=True)
    path = out / "tuning.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"chosen": chosen, "validation": record}, indent=2))


def _measured(out: Path, system: str, tag: str) -> Path:
    return out / "measure" / (f"{system}-{tag}" if tag else system)


def measure(args) -> None:
    out = Path(args.out)
    chosen = json.loads((out / "tuning.json").read_text())["chosen"]
    for system in args.systems.split(","):
        for method in SYSTEMS[system][2]:
            lr = chosen[system][method]
            for seed in _seeds(args.seeds):
                cfg = _config(system, method, seed, lr, args.set)
                _run(_measured(out, system, args.tag) / method / f"seed{seed}", cfg)


def _mean_std(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    if not values:
        return "-"
    mean = statistics.mean(values) * scale
    std = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} +- {std:.{digits}f}"


def table(args) -> None:
    out = Path(args.out)
    chosen = json.loads((out / "tuning.json").read_text())["chosen"]
    print(
        "| system | method | lr | test acc % (physical) | twin % | gap closed | queries | "
        "frames | uploads | s/epoch |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for system in args.systems.split(","):
        results: dict[str, list[dict]] = {}
        for method in SYSTEMS[system][2]:
            for seed in _seeds(args.seeds):
                path = _measured(out, system, args.tag) / method / f"seed{seed}" / "result.json"
                if path.is_file():
                    results.setdefault(method, []).append(json.loads(path.read_text()))
        if "insilico" not in results:
            continue
        twin = [r["test_accuracy_twin"] for r in results["insilico"]]
        dd = [r["test_accuracy_physical"] for r in results["insilico"]]
        gap = statistics.mean(twin) - statistics.mean(dd)
        name = f"{system} ({args.tag})" if args.tag else system
        print(f"| {name} | error-free twin | | {_mean_std(twin)} | | | | | | |")
        for method, rows in results.items():
            acc = [r["test_accuracy_physical"] for r in rows]
            closed = (statistics.mean(acc) - statistics.mean(dd)) / gap if gap > 0 else float("nan")
            measured = _measured(out, system, args.tag)
            per_epoch = [r["train_seconds"] / _epochs(measured, method, r["seed"]) for r in rows]
            twin_acc = [r["test_accuracy_twin"] for r in rows]
            print(
                f"| {name} | {LABELS[method]} | {chosen[system][method]} | {_mean_std(acc)} | "
                f"{_mean_std(twin_acc)} | {closed:.2f} | "
                f"{statistics.mean(r['physical_queries'] for r in rows):,.0f} | "
                f"{statistics.mean(r['physical_frames'] for r in rows):,.0f} | "
                f"{statistics.mean(r['parameter_uploads'] for r in rows):,.0f} | "
                f"{statistics.mean(per_epoch):.2f} |"
            )


def _epochs(measured: Path, method: str, seed: int) -> int:
    metrics = measured / method / f"seed{seed}" / "metrics.jsonl"
    return max(1, len(metrics.read_text().splitlines()))


def speed(args) -> None:
    """Frames per second of the slmsuite simulated device (calibrated, 500 MNIST-sized
    samples per batch) and of one training epoch per family and method (digits)."""
    torch.set_num_threads(1)
    cfg = load_config("slm-digits", ["method=insilico", "train.progress=false"])
    exp = build_experiment(cfg)
    x = exp.method.encode(exp.splits.train.images[:500])
    params = exp.method.display_params()
    exp.system.measure(params, x[:20])
    start = time.perf_counter()
    exp.system.measure(params, x)
    seconds = time.perf_counter() - start
    print(f"slmsuite simulated SLM + camera: {500 / seconds:.0f} frames/s (32 x 32 SLM region, ")
    print("  64 x 64 camera, padded far field, affine camera placement, 10-bit readout)")
    print("| family | system | method | s/epoch (digits, 1294 samples) |")
    print("|---|---|---|---|")
    for system, (_, _, methods, _) in SYSTEMS.items():
        for method in methods:
            cfg = _config(system, method, 0, 0.01, ["train.epochs=2", "train.measure_test=false"])
            history = fit(build_experiment(cfg)).history
            print(f"| {cfg.model} | {system} | {LABELS[method]} | {history[-1]['seconds']:.2f} |")


_CROSSBAR_OFF = {
    "gain": ["errors.crossbar.gain_std=0"],
    "offset": ["errors.crossbar.offset_std=0"],
    "stuck cells": ["errors.crossbar.stuck_on=0", "errors.crossbar.stuck_off=0"],
    "IR drop": ["errors.crossbar.wire_resistance=0"],
    "DAC + ADC": [
        "errors.crossbar.dac_bits=null",
        "errors.crossbar.adc_bits=null",
        "errors.crossbar.adc_bound=1e6",
    ],
    "read noise": ["errors.crossbar.read_noise=0"],
}
_AIHWKIT_OFF = {
    "programming noise": ["errors.crossbar.pcm_prog_noise_scale=0"],
    "drift": ["errors.crossbar.pcm_drift_scale=0"],
    "1/f read noise": ["errors.crossbar.pcm_read_noise_scale=0"],
    "DAC + ADC": ["errors.crossbar.dac_bits=null", "errors.crossbar.adc_bits=null"],
    "output noise": ["errors.crossbar.read_noise=0"],
}
_SLM_OFF = {
    "aberration": ["errors.slm.aberration_rms=0"],
    "beam profile": ["errors.slm.beam_waist_std=0", "errors.slm.beam_offset_std=0"],
    "phase response": ["errors.slm.phase_range_std=0", "errors.slm.phase_gamma_std=0"],
    "camera placement": [
        "errors.slm.camera_offset_std=0",
        "errors.slm.camera_rotation_std=0",
        "errors.slm.magnification_std=0",
    ],
    "vignetting": ["errors.slm.vignetting=0"],
    "gain + read noise": ["errors.slm.gain_std=0", "errors.slm.read_noise=0"],
}
ERROR_GROUPS = {"crossbar": _CROSSBAR_OFF, "aihwkit": _AIHWKIT_OFF, "slmsuite": _SLM_OFF}


def diagnose(args) -> None:
    """Direct deployment of each seed's in-silico model with all errors, with none, and with
    only one group of errors on (the others off)."""
    out = Path(args.out)
    chosen = json.loads((out / "tuning.json").read_text())["chosen"]
    print("| system | errors on | DD test acc % (mean +- std over seeds) |")
    print("|---|---|---|")
    for system in args.systems.split(","):
        groups = ERROR_GROUPS[system]
        everything_off = [o for group in groups.values() for o in group]
        cases = {"all": [], "none": everything_off}
        for name, off in groups.items():
            cases[f"only {name}"] = [o for o in everything_off if o not in off]
        for case, overrides in cases.items():
            accs = []
            for seed in _seeds(args.seeds):
                run_dir = out / "measure" / system / "insilico" / f"seed{seed}"
                cfg = _config(system, "insilico", seed, chosen[system]["insilico"], overrides)
                accs.append(deploy_run(run_dir, cfg)["test_accuracy_physical"])
            print(f"| {system} | {case} | {_mean_std(accs)} |", flush=True)


def decompose(args) -> None:
    """Split each crossbar's output error (the in-silico model of each seed, validation
    inputs) into a systematic part (the mean device output against the twin), a part that
    changes at every programming and a part that changes at every read; relative to the
    twin's mean square. Only the systematic part can be learnt by an SEPN."""
    out = Path(args.out)
    chosen = json.loads((out / "tuning.json").read_text())["chosen"]
    print("| system | systematic | programming | read | (relative mean square errors) |")
    print("|---|---|---|---|---|")
    for system in ("crossbar", "aihwkit"):
        parts: dict[str, list[float]] = {"systematic": [], "programming": [], "read": []}
        for seed in _seeds(args.seeds):
            cfg = _config(system, "insilico", seed, chosen[system]["insilico"], [])
            exp = build_experiment(cfg)
            run_dir = out / "measure" / system / "insilico" / f"seed{seed}"
            state = load_checkpoint(run_dir / "model.safetensors")
            pnn = exp.method.twin
            load_flat_state({"pnn": pnn}, {k: v for k, v in state.items() if k.startswith("pnn/")})
            x = exp.method.encode(exp.splits.val.images)
            params = exp.method.display_params()
            nudged = {k: v * (1 + 1e-6) for k, v in params.items()}
            with torch.no_grad():
                twin = pnn.run(x).output
            reads = []
            for _ in range(4):  # four programmings of the same weights, two reads each
                exp.system.measure(nudged, x[:1])  # another weight set: the next is written anew
                reads.append(torch.stack([exp.system.measure(params, x).output for _ in range(2)]))
            reads = torch.stack(reads)  # (programming, read, sample, class)
            scale = float(twin.square().mean())
            per_programming = reads.mean(dim=1)
            read = float(reads.var(dim=1).mean())
            parts["read"].append(read / scale)
            # a mean of two reads keeps half the read variance: remove it
            between = float(per_programming.var(dim=0).mean()) - read / 2
            parts["programming"].append(between / scale)
            parts["systematic"].append(
                float((reads.mean(dim=(0, 1)) - twin).square().mean()) / scale
            )
        print(
            f"| {system} | {_mean_std(parts['systematic'], 1, 4)} | "
            f"{_mean_std(parts['programming'], 1, 4)} | {_mean_std(parts['read'], 1, 4)} | |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=(*COMMANDS,))
    parser.add_argument("--out", default="runs/analog-systems")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--tune-seeds", default="101,102")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        help="measure: a further override of every run (another operating point)",
    )
    parser.add_argument("--tag", default="", help="measure / table: name of that operating point")
    args = parser.parse_args()
    COMMANDS[args.command](args)


COMMANDS = {
    "tune": tune,
    "measure": measure,
    "table": table,
    "speed": speed,
    "diagnose": diagnose,
    "decompose": decompose,
}

if __name__ == "__main__":
    main()
