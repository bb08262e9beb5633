"""Time of one training step per method at small and large batches, optionally side by side
with another checkout of the code (to measure a change on a machine that others share).

Each method's ``step`` runs on real training batches of the preset (after warm-up, with the
SEPN weight switched on) in one thread; the figure is the fastest of ``--repeats`` rounds of
``--steps`` steps, in process CPU time (what the step costs, little affected by other
processes) and wall time. With ``--against SRC`` (the ``src`` folder of another checkout,
e.g. ``/work/main/src``) every round runs both trees one after the other in fresh processes,
so both see the same machine:

    python benchmarks/step_time.py --against /work/main/src
    python benchmarks/step_time.py --preset mpnn-mnist --batches 32,500 --methods dat-unitary
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SPECS = ("insilico", "pat", "dat-none", "dat-unitary")


def measure(preset: str, spec: str, batch: int, steps: int) -> dict[str, float]:
    """CPU and wall milliseconds per step of ``spec`` at ``batch`` (one round)."""
    import torch

    from photonic_dat.config.factory import build_experiment
    from photonic_dat.config.loading import load_config

    torch.set_num_threads(1)
    method, _, mode = spec.partition("-")
    sets = [f"method={method}", f"train.batch_size={batch}", "train.progress=false"]
    sets += [f"dat.internal_states={mode}"] if mode else []
    exp = build_experiment(load_config(preset, sets))
    m = exp.method
    m.start_epoch(10**6)  # past dat.sepn_start_epoch: the task pass goes through the SEPNs
    train = exp.splits.train
    batches = [
        (m.encode(train.images[i : i + batch]), train.labels[i : i + batch])
        for i in range(0, min(len(train), batch * 4) - batch + 1, batch)
    ] or [(m.encode(train.images[:batch]), train.labels[:batch])]
    for fields, labels in batches[:2]:  # warm-up
        m.step(fields, labels)
    cpu, wall = time.process_time(), time.perf_counter()
    for k in range(steps):
        m.step(*batches[k % len(batches)])
    return {
        "cpu_ms": 1000 * (time.process_time() - cpu) / steps,
        "wall_ms": 1000 * (time.perf_counter() - wall) / steps,
        "samples": len(batches[0][1]),
    }


def _worker(args) -> None:
    out = {}
    for spec in args.methods.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            out[f"{spec}@{batch}"] = measure(args.preset, spec, batch, args.steps)
    print(json.dumps(out))


def _round(src: str, args) -> dict[str, dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--worker", "--preset", args.preset]
    cmd += ["--methods", args.methods, "--batches", args.batches, "--steps", str(args.steps)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"worker for {src} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="mpnn-digits")
    parser.add_argument("--methods", default=",".join(SPECS))
    parser.add_argument("--batches", default="32,500")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", default=None, help="src folder of another checkout")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    here = str(Path(__file__).resolve().parents[1] / "src")
    trees = {"this": here} | ({"against": args.against} if args.against else {})
    best: dict[str, dict[str, dict[str, float]]] = {name: {} for name in trees}
    for _ in range(args.repeats):
        for name, src in trees.items():
            for key, fig in _round(src, args).items():
                old = best[name].get(key)
                best[name][key] = fig if old is None else {k: min(old[k], fig[k]) for k in fig}
    print(
        f"{args.preset}: ms per training step, 1 thread, best of {args.repeats} rounds of "
        f"{args.steps} steps (CPU time / wall time)"
    )
    head = f"{'method':<13} {'batch':>5}  {'this':>15}"
    if args.against:
        head += f"  {'against':>15}  {'speed-up (CPU)':>14}"
    print(head)
    for key, fig in best["this"].items():
        spec, batch = key.split("@")
        line = f"{spec:<13} {fig['samples']:>5}  {fig['cpu_ms']:>6.1f} / {fig['wall_ms']:>6.1f}"
        if args.against:
            other = best["against"][key]
            ratio = other["cpu_ms"] / fig["cpu_ms"]
            line += f"  {other['cpu_ms']:>6.1f} / {other['wall_ms']:>6.1f}  {ratio:>13.2f}x"
        print(line)


if __name__ == "__main__":
    main()
