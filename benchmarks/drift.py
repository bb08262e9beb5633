"""What drift does to DD, PAT and DAT, and DAT refitting its SEPNs when the reference shows it.

The simulated device drifts by a stated amount: every phase setting gains an offset (std
``--phase-std`` rad) and the laser loses ``--power`` of its power, growing linearly over one
epoch's worth of samples from the middle of the run on (the drift clock counts the samples the
device measured). Three figures per method, test accuracy on the physical system:

* steady: trained and tested on a device that does not drift;
* after drift: the same trained model, its test split re-measured on the drifted device
  (``photonic-dat evaluate RUN --set system.drift...``);
* drifting: trained while the device drifts (from mid-run), tested after, both the epoch that
  validation selects and the last epoch; the reference pattern is measured every
  ``--reference-every`` steps, a change above ``--drift-threshold`` restarts model selection,
  and "DAT w/ IS + refit" also refits its SEPNs (``dat.refit_steps``).

    python benchmarks/drift.py --seeds 0,1
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from photonic_dat.config.factory import build_experiment, load_splits  # noqa: E402
from photonic_dat.config.loading import load_config  # noqa: E402
from photonic_dat.training.evaluate import accuracy, predict  # noqa: E402
from photonic_dat.training.loop import fit  # noqa: E402
from photonic_dat.training.run import evaluate_run, train_run  # noqa: E402

METHODS = {
    "DD (in silico)": ["method=insilico"],
    "PAT": ["method=pat"],
    "DAT w/ IS": ["method=dat", "dat.internal_states=unitary"],
}
REFIT = ["method=dat", "dat.internal_states=unitary"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="mpnn-digits")
    parser.add_argument("--seeds", default="0", help="error seeds (the device and its drift)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--phase-std", type=float, default=0.06)
    parser.add_argument("--power", type=float, default=-0.2)
    parser.add_argument("--reference-every", type=int, default=10)
    parser.add_argument("--drift-threshold", type=float, default=0.02)
    parser.add_argument("--refit-steps", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("bench-out/drift"))
    args = parser.parse_args()
    torch.set_num_threads(1)

    schedule = [
        f"train.epochs={args.epochs}",
        f"dat.sepn_start_epoch={args.epochs // 3}",
        f"train.lr_step={max(1, args.epochs // 3)}",
        "train.progress=false",
    ]
    probe = load_config(args.preset, schedule)
    splits = load_splits(probe)
    per_epoch = len(splits.train) + len(splits.val)
    onset = per_epoch * args.epochs // 2
    drift = [f"system.drift.phase_std={args.phase_std}", f"system.drift.power={args.power}"]
    during = [*drift, f"system.drift.onset={onset}", f"system.drift.duration={per_epoch}"]
    after = [*drift, "system.drift.onset=0", "system.drift.duration=0"]
    reference = [
        f"train.reference_every={args.reference_every}",
        "train.reference_samples=8",
        f"train.drift_threshold={args.drift_threshold}",
    ]
    refit = [f"dat.refit_steps={args.refit_steps}"]

    rows: dict[str, dict[str, list[float]]] = {}
    notes: list[str] = []

    def record(name: str, column: str, value: float) -> None:
        rows.setdefault(name, {}).setdefault(column, []).append(value)

    for seed in [int(s) for s in args.seeds.split(",")]:
        device = [f"errors.seed={seed}"]
        for name, method in METHODS.items():
            run = args.out / f"seed{seed}" / f"steady-{method[0].split('=')[1]}"
            cfg = load_config(args.preset, [*schedule, *device, *method])
            result = train_run(cfg, run)
            record(name, "steady", result["test_accuracy_physical"])
            record(name, "after drift", evaluate_run(run, after)["test_accuracy_physical"])
            if name.startswith("DD"):  # trained without the device: the drifted test is its
                record(name, "drifting, selected", rows[name]["after drift"][-1])
                record(name, "drifting, last epoch", rows[name]["after drift"][-1])
        variants = {
            "PAT": METHODS["PAT"],
            "DAT w/ IS": METHODS["DAT w/ IS"],
            "DAT w/ IS + refit": [*REFIT, *refit],
        }
        for name, method in variants.items():
            cfg = load_config(args.preset, [*schedule, *device, *method, *during, *reference])
            exp = build_experiment(cfg)
            last: dict[str, float] = {}

            def on_epoch(epoch_record, exp=exp, last=last, epochs=cfg.train.epochs) -> None:
                if epoch_record["epoch"] == epochs:  # the last epoch's model, not the selected
                    test = exp.splits.test
                    m = exp.method
                    preds = predict(m.physical_scores, test.images, 2000, m.encode)
                    last["test"] = accuracy(preds, test.labels)

            fitted = fit(exp, on_epoch)
            result, refs = fitted.result, fitted.reference
            record(name, "drifting, selected", result["test_accuracy_physical"])
            record(name, "drifting, last epoch", last["test"])
            notes.append(
                f"seed {seed}, {name}: selected epoch {result['best_epoch']} of {args.epochs}; "
                f"reference power {refs[-1]['power']:.3f}, change since start "
                f"{refs[-1]['change_from_start']:.3f}, drifts {sum(r['drift'] for r in refs)}, "
                f"refits {sum(r['refit'] for r in refs)}; "
                f"last similarity loss {fitted.history[-1]['similarity_loss'] or 0:.4f}"
            )

    def cell(values: list[float] | None) -> str:
        if not values:
            return "-"
        mean = 100 * statistics.mean(values)
        if len(values) == 1:
            return f"{mean:.1f}"
        return f"{mean:.1f} +- {100 * statistics.stdev(values):.1f}"

    print(
        f"\n## drift: phase offsets std {args.phase_std} rad, laser power {args.power:+.0%}; "
        f"{args.preset}, {args.epochs} epochs, error seeds {args.seeds}\n"
    )
    print(
        "| method | steady device | same model, after the drift | trained while drifting "
        "(validation-selected epoch) | trained while drifting (last epoch) |"
    )
    print("|---|---|---|---|---|")
    for name in [*METHODS, "DAT w/ IS + refit"]:
        r = rows.get(name, {})
        print(
            f"| {name} | {cell(r.get('steady'))} | {cell(r.get('after drift'))} | "
            f"{cell(r.get('drifting, selected'))} | {cell(r.get('drifting, last epoch'))} |"
        )
    print(f"\ndrift from sample {onset:,} over {per_epoch:,} samples (one epoch)")
    for line in notes:
        print(line)


if __name__ == "__main__":
    main()
