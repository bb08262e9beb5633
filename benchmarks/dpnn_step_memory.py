"""Memory and time of one training step of a DPNN preset (default: the paper-scale one).

Builds the preset (7 masks of 200 x 200 = 280,000 neurons for ``dpnn-paper``) with its
simulated device, runs one warm-up step at batch 2, then measures one step at ``--batch`` for
each method: wall time and the growth of this process's peak resident memory (Linux
``ru_maxrss``) over the warm-up state, i.e. what the step's activations and gradients add.
Run each method in a fresh process (the default) so that peaks do not hide each other.

    python benchmarks/dpnn_step_memory.py --preset dpnn-paper --batch 32
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def one(preset: str, method: str, batch: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from photonic_dat.config.factory import build_method, build_pnn, build_system
    from photonic_dat.config.loading import load_config

    name, _, mode = method.partition("-")
    overrides = [f"method={name}", "dat.sepn_start_epoch=0"]
    if mode:
        overrides.append(f"dat.internal_states={mode}")
    cfg = load_config(preset, overrides)
    pnn = build_pnn(cfg)
    system = build_system(cfg, pnn)
    m = build_method(cfg, pnn, system)
    gen = torch.Generator().manual_seed(0)

    def batch_of(n: int):
        images = torch.rand(n, 28, 28, generator=gen)
        return m.encode(images), torch.randint(0, 10, (n,), generator=gen)

    m.step(*batch_of(2))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fields, labels = batch_of(batch)
    start = time.perf_counter()
    m.step(fields, labels)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "method": method,
        "batch": batch,
        "step_seconds": seconds,
        "peak_rss_mib": peak / 1024,
        "step_extra_mib": (peak - before) / 1024,
        "neurons": cfg.dpnn.neurons**2 * cfg.dpnn.layers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="dpnn-paper")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--methods", default="insilico,pat,dat-unitary")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one(args.preset, args.child, args.batch, args.threads)))
        return
    print(f"{args.preset}: one training step at batch {args.batch}, {args.threads} threads")
    print(f"{'method':<14} {'neurons':>9} {'step s':>8} {'peak RSS MiB':>13} {'step adds MiB':>14}")
    for method in args.methods.split(","):
        cmd = [
            sys.executable,
            __file__,
            "--preset",
            args.preset,
            "--batch",
            str(args.batch),
            "--threads",
            str(args.threads),
            "--child",
            method,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"{r['method']:<14} {r['neurons']:>9,} {r['step_seconds']:>8.2f} "
            f"{r['peak_rss_mib']:>13.0f} {r['step_extra_mib']:>14.0f}"
        )


if __name__ == "__main__":
    main()
