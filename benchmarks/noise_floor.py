"""Repeat-measurement noise floor of a simulated device against its twin's mismatch.

The same inputs are measured twice at the twin's initial design; half the similarity between
the two measurements (MSE of L2-normalised intensities, the calibration's and DAT's measure)
is what detector noise alone adds to one measurement. Beside it, the mismatch between the
error-free twin and the device: what calibration or an SEPN can remove is the difference.

    python benchmarks/noise_floor.py --preset mpnn-mnist-cpu --error-seed 100
"""

from __future__ import annotations

import argparse

import torch

from photonic_dat.calibration.fit import similarity
from photonic_dat.config.factory import build_experiment
from photonic_dat.config.loading import load_config
from photonic_dat.optics.detectors import intensity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="mpnn-mnist-cpu")
    parser.add_argument("--error-seed", type=int, default=100)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE")
    args = parser.parse_args()
    overrides = [
        f"errors.seed={args.error_seed}",
        f"data.train_samples={max(args.samples, 200)}",
        "data.val_samples=100",
        "data.test_samples=100",
        "train.progress=false",
        *args.set,
    ]
    exp = build_experiment(load_config(args.preset, overrides))
    twin, system = exp.method.twin, exp.system
    taps = tuple(system.capabilities.internal_taps)
    params = {k: v.detach() for k, v in twin.optical_parameters().items()}
    fields = exp.method.encode(exp.splits.train.images[: args.samples])
    first = system.measure(params, fields, taps)
    second = system.measure(params, fields, taps)
    with torch.no_grad():
        trace = twin.run(fields)
    rows = [("output", first.output, second.output, twin.measured_output(intensity(trace.output)))]
    rows += [(f"tap {k}", first.taps[k], second.taps[k], intensity(trace.states[k])) for k in taps]
    print(f"{args.preset}, error seed {args.error_seed}, {args.samples} training images")
    print(f"{'plane':<8} {'noise floor':>12} {'twin vs device':>15}")
    total_noise = total_mismatch = 0.0
    for name, a, b, ideal in rows:
        noise = float(similarity(a, b)) / 2
        mismatch = float(similarity(ideal, a))
        total_noise, total_mismatch = total_noise + noise, total_mismatch + mismatch
        print(f"{name:<8} {noise:>12.2e} {mismatch:>15.2e}")
    print(f"{'all':<8} {total_noise:>12.2e} {total_mismatch:>15.2e}")


if __name__ == "__main__":
    main()
