"""Training throughput of each method on the paper's MPNN (3 meshes of 64 ports).

Times `Method.step` on MNIST-shaped batches of 500 (28x28 images through the FFT-crop
encoder), after warm-up, all methods side by side in one run, and counts the physical queries
one epoch of 60,000 training samples costs. Run it with nothing else on the machine.

    python benchmarks/speed_mpnn.py [--threads 2] [--steps 10] [--batch 500]

The reference implementation's figures on the same kind of 2-core CPU (brief / issue):
about 280 samples/s for in-silico and PAT training and about 125 samples/s for DAT w/ IS.
"""

from __future__ import annotations

import argparse
import time

import torch

from photonic_dat.config.factory import build_method, build_pnn, build_system
from photonic_dat.config.loading import load_config

REFERENCE = {
    "insilico": 280.0,
    "pat": 280.0,
    "dat-none": None,
    "dat-unitary": 125.0,
    "dat-separable": None,
}


def measure(spec: str, steps: int, batch: int, threads: int) -> dict:
    method_name, _, mode = spec.partition("-")
    overrides = [f"method={method_name}", "dat.sepn_start_epoch=0", f"train.batch_size={batch}"]
    if mode:
        overrides.append(f"dat.internal_states={mode}")
    cfg = load_config("mpnn-mnist", overrides)
    torch.set_num_threads(threads)
    pnn = build_pnn(cfg)
    system = build_system(cfg, pnn)
    method = build_method(cfg, pnn, system)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 28, 28, generator=gen)
    labels = torch.randint(0, 10, (batch,), generator=gen)
    fields = method.encode(images)
    for _ in range(2):
        method.step(fields, labels)
    q0 = system.queries.total
    start = time.perf_counter()
    for _ in range(steps):
        method.step(method.encode(images), labels)
    seconds = (time.perf_counter() - start) / steps
    queries_per_step = (system.queries.total - q0) / steps
    return {
        "method": spec,
        "ms_per_step": 1000 * seconds,
        "samples_per_s": batch / seconds,
        "queries_per_epoch": int(queries_per_step * 60000 / batch),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--methods", default="insilico,pat,dat-none,dat-unitary,dat-separable")
    args = parser.parse_args()
    rows = [measure(m, args.steps, args.batch, args.threads) for m in args.methods.split(",")]
    print(f"MPNN 3 x 64 ports, batch {args.batch}, {args.threads} threads, {args.steps} steps")
    header = ("method", "ms/step", "samples/s", "vs reference", "queries/epoch")
    print(f"{header[0]:<14} {header[1]:>9} {header[2]:>10} {header[3]:>13} {header[4]:>14}")
    for r in rows:
        ref = REFERENCE.get(r["method"])
        ratio = f"{r['samples_per_s'] / ref:.0f}x" if ref else "-"
        print(
            f"{r['method']:<14} {r['ms_per_step']:>9.1f} {r['samples_per_s']:>10.0f} "
            f"{ratio:>13} {r['queries_per_epoch']:>14,}"
        )


if __name__ == "__main__":
    main()
