"""GPU check, for a session lent a CUDA GPU: does everything run there, how fast, how big.

Three parts, a few minutes in all:

1. CPU versus GPU: the same seeds give the same hidden device (the error realisation is
   drawn on the CPU) and, within float tolerance, the same measurement and the same first
   DAT step on the small MPNN;
2. the test suite's quick subset (``-m "not slow"``) with ``train.device`` resolving to the
   GPU (``PHOTONIC_DAT_TEST_DEVICE=cuda``);
3. the paper-scale diffractive PNN (preset ``dpnn-paper``: 7 masks of 200 x 200) trained with
   DAT w/ IS: time of one step and peak GPU memory at ``--batch`` (32), after a warm-up step;
   in-silico and PAT steps beside it.

    python benchmarks/gpu_check.py                 # all three
    python benchmarks/gpu_check.py --skip-tests --steps 5

Without a CUDA GPU it says so and exits with status 2. Exit status 1 when a part fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def require_gpu(device: str) -> torch.device:
    if not torch.cuda.is_available():
        build = torch.version.cuda or "none (a CPU-only build)"
        raise SystemExit(
            f"gpu_check: no CUDA GPU visible to torch {torch.__version__} (CUDA build: {build}, "
            f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}). "
            "Run it on a machine with an NVIDIA GPU and a CUDA build of torch."
        )
    dev = torch.device(device)
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise SystemExit(f"gpu_check: {device} asked, {torch.cuda.device_count()} GPU(s) here")
    return dev


def consistency(device: torch.device) -> list[str]:
    """The same seeds on the CPU and on the GPU: same device, close figures."""
    from photonic_dat.config.factory import build_training
    from photonic_dat.config.loading import load_config

    sets = ["method=dat", "dat.internal_states=unitary", "dat.sepn_start_epoch=0"]
    problems = []
    built = []
    for where in ("cpu", str(device)):
        cfg = load_config("mpnn-digits", [*sets, f"train.device={where}"])
        system, method = build_training(cfg)
        images = torch.rand(32, 8, 8, generator=torch.Generator().manual_seed(0))
        labels = torch.randint(0, 10, (32,), generator=torch.Generator().manual_seed(1))
        fields = method.encode(images)
        measured = system.measure(method.display_params(), fields).output.cpu()
        metrics = method.step(fields, labels.to(method.device))
        with tempfile.TemporaryDirectory() as tmp:
            system.save_device(tmp)  # the realisation and its digest (safetensors + JSON)
            digest = json.loads((Path(tmp) / "errors.json").read_text())["digest"]
        built.append((digest, measured, metrics, method.device))
    (d_cpu, m_cpu, s_cpu, _), (d_gpu, m_gpu, s_gpu, on) = built
    if on.type != "cuda":
        problems.append(f"train.device={device} left the twin on {on}")
    if d_cpu != d_gpu:
        problems.append("the error realisation differs between CPU and GPU")
    if not torch.allclose(m_cpu, m_gpu, rtol=1e-4, atol=1e-6):
        problems.append(f"measurements differ: max {float((m_cpu - m_gpu).abs().max()):.2e}")
    for key in ("task_loss", "similarity_loss"):
        a, b = s_cpu[key], s_gpu[key]
        if abs(a - b) > 1e-3 * max(1.0, abs(a)):
            problems.append(f"first step {key}: CPU {a:.6g}, GPU {b:.6g}")
    return problems


def quick_tests(timeout_s: int) -> tuple[bool, str]:
    env = {**os.environ, "PHOTONIC_DAT_TEST_DEVICE": "cuda"}
    cmd = [sys.executable, "-m", "pytest", "-m", "not slow", "-q", "-p", "no:cacheprovider"]
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return False, f"not finished within {timeout_s} s"
    tail = [line for line in proc.stdout.splitlines() if line.strip()][-15:]
    return proc.returncode == 0, "\n".join(tail)


def paper_step(device: torch.device, spec: str, batch: int, steps: int) -> dict[str, float]:
    """Mean seconds per step and peak GPU memory of one method on ``dpnn-paper``."""
    from photonic_dat.config.factory import build_training
    from photonic_dat.config.loading import load_config

    method_name, _, mode = spec.partition("-")
    sets = [f"method={method_name}", "dat.sepn_start_epoch=0", f"train.device={device}"]
    sets += [f"dat.internal_states={mode}"] if mode else []
    cfg = load_config("dpnn-paper", sets)
    _, method = build_training(cfg)
    method.start_epoch(cfg.dat.sepn_start_epoch)
    gen = torch.Generator().manual_seed(0)

    def batch_of(n: int):
        images = torch.rand(n, 28, 28, generator=gen)
        labels = torch.randint(0, 10, (n,), generator=gen)
        return method.encode(images), labels.to(method.device)

    method.step(*batch_of(2))  # warm-up: kernels, transfer functions, allocator
    data = [batch_of(batch) for _ in range(steps)]
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    start = time.perf_counter()
    for fields, labels in data:
        method.step(fields, labels)
    torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - start) / steps
    peak = torch.cuda.max_memory_allocated(device)
    return {"seconds": seconds, "peak_gib": peak / 2**30, "step_gib": (peak - base) / 2**30}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--methods", default="insilico,pat,dat-unitary")
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--test-timeout", type=int, default=300)
    args = parser.parse_args()
    try:
        device = require_gpu(args.device)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
    props = torch.cuda.get_device_properties(device)
    print(
        f"{props.name}, {props.total_memory / 2**30:.0f} GiB; torch {torch.__version__}, "
        f"CUDA {torch.version.cuda}"
    )
    failed = False

    start = time.perf_counter()
    problems = consistency(device)
    failed |= bool(problems)
    verdict = "ok" if not problems else "FAILED: " + "; ".join(problems)
    print(f"\n1. CPU vs GPU, same seeds ({time.perf_counter() - start:.0f} s): {verdict}")

    if not args.skip_tests:
        start = time.perf_counter()
        ok, tail = quick_tests(args.test_timeout)
        failed |= not ok
        print(f"\n2. quick tests on the GPU ({time.perf_counter() - start:.0f} s): "
              f"{'ok' if ok else 'FAILED'}\n{tail}")  # fmt: skip

    print(f"\n3. dpnn-paper (7 x 200 x 200 neurons), batch {args.batch}, {args.steps} steps")
    print(f"{'method':<13} {'s/step':>8} {'peak GiB':>9} {'step adds GiB':>14}")
    for spec in args.methods.split(","):
        try:
            r = paper_step(device, spec, args.batch, args.steps)
        except torch.cuda.OutOfMemoryError as exc:
            failed = True
            print(f"{spec:<13} out of GPU memory: {str(exc).splitlines()[0]}")
            torch.cuda.empty_cache()
            continue
        print(f"{spec:<13} {r['seconds']:>8.3f} {r['peak_gib']:>9.2f} {r['step_gib']:>14.2f}")
        torch.cuda.empty_cache()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
