"""The device as a separate process: DAT w/ IS through a measurement server on localhost.

Two tables:

1. side by side: the same DAT w/ IS run in-process and through ``photonic-dat serve`` (its own
   process, 127.0.0.1): figures, frames and time;
2. a slow device (10 ms per frame, 20 ms per parameter upload, emulated by the server): the
   device's busy share (how much of the run it measures rather than waits on the trainer)
   and the ``train --dry-run`` estimate against the device time measured by the server.

    python benchmarks/remote_device.py --data-root ../shared/data
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from photonic_dat.config.factory import build_experiment  # noqa: E402
from photonic_dat.config.loading import load_config  # noqa: E402
from photonic_dat.training.budget import plan_run  # noqa: E402
from photonic_dat.training.loop import fit  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(preset: str, overrides: list[str], key_file: Path) -> Iterator[str]:
    """``photonic-dat serve`` in its own process; yields its address."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    sets = [arg for item in overrides for arg in ("--set", item)]
    cmd = [sys.executable, "-m", "photonic_dat.cli.main", "serve", preset, *sets]
    cmd += ["--listen", address, "--key-file", str(key_file)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "serving" not in line:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError("the server exited before serving")
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _key(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "bench-key"
    if not path.exists():
        path.write_text(os.urandom(32).hex())
    os.chmod(path, 0o600)
    return path


def _run(config) -> tuple[dict, object, float]:
    start = time.perf_counter()
    exp = build_experiment(config)
    fitted = fit(exp)
    wall = time.perf_counter() - start
    return fitted.result, exp, wall


def side_by_side(args, key: Path) -> None:
    base = [
        f"data.root={args.data_root}",
        f"data.name={args.data}",
        "dat.internal_states=unitary",
        f"train.epochs={args.epochs}",
        f"dat.sepn_start_epoch={max(0, args.epochs - 1)}",
        "train.progress=false",
    ]
    if args.train_samples:
        base.append(f"data.train_samples={args.train_samples}")
    config = load_config(args.preset, base)
    rows = []
    local, exp, wall = _run(config)
    rows.append(("in-process", local, wall, {"device_frames": exp.system.queries.total_frames}))
    with served(args.preset, base, key) as address:
        remote_cfg = load_config(
            args.preset,
            [*base, "system.kind=remote", f"system.address={address}", f"system.key_file={key}"],
        )
        remote, exp, wall = _run(remote_cfg)
        report = exp.system.report()["remote"]
        exp.system.close()
    rows.append(("through the server", remote, wall, report))
    print(f"\n## {args.data}: DAT w/ IS, {args.epochs} epochs, in-process vs 127.0.0.1\n")
    print(
        "| where | test acc (physical) | test acc (twin) | val acc | frames | uploads "
        "| device frames, all | train s | wall s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r, wall, rep in rows:
        dev = rep["device_frames"]
        print(
            f"| {name} | {r['test_accuracy_physical']:.4f} | {r['test_accuracy_twin']:.4f} | "
            f"{r['val_accuracy_physical']:.4f} | {r['physical_frames']:,} | "
            f"{r['parameter_uploads']:,} | {dev:,} | {r['train_seconds']:.1f} | {wall:.1f} |"
        )
    keys = ("test_accuracy_physical", "test_accuracy_twin", "val_accuracy_physical", "frames")
    same = all(local[k] == remote[k] for k in keys)
    print(f"\nidentical figures: {same}; sentinel frames {rows[1][3]['sentinel_frames']:,}")


def busy_share(args, key: Path) -> None:
    device = [
        "system.timings.frame_s=0.01",
        "system.timings.upload_s=0.02",
        "system.emulate_timings=true",
    ]
    base = [
        f"data.root={args.data_root}",
        f"data.name={args.data}",
        "dat.internal_states=unitary",
        "train.epochs=1",
        "dat.sepn_start_epoch=0",
        f"data.train_samples={args.busy_train_samples}",
        f"data.val_samples={args.busy_val_samples}",
        f"data.test_samples={args.busy_test_samples}",
        "train.progress=false",
    ]
    rows = []
    for overlap in (False, True):
        with served(args.preset, [*base, *device], key) as address:
            cfg = load_config(
                args.preset,
                [
                    *base,
                    "system.kind=remote",
                    f"system.address={address}",
                    f"system.key_file={key}",
                    f"system.overlap={str(overlap).lower()}",
                ],
            )
            phases, timings, source = plan_run(cfg)
            estimate = sum(p.seconds for p in phases)
            start = time.perf_counter()
            exp = build_experiment(cfg)
            result = fit(exp).result
            wall = time.perf_counter() - start
            declared = exp.system.queries.device_seconds  # the trainer's frames, final test too
            stats = exp.system.server_stats()
            report = exp.system.report()["remote"]
            exp.system.close()
        rows.append((overlap, estimate, declared, stats, report, wall, result))
    steps = -(-rows[0][6]["train_samples"] // cfg.train.batch_size)
    print(
        f"\n## slow device: 10 ms per frame, 20 ms per upload ({args.data}, DAT w/ IS, "
        f"{rows[0][6]['train_samples']} training samples = {steps} steps of "
        f"{cfg.train.batch_size}, 1 epoch)\n"
    )
    print(
        "| similarity forward during the measurement | dry-run estimate (s) "
        "| trainer's frames at declared timings (s) | device busy, measured (s) "
        "| session span (s) | busy share | device waits on the trainer |"
    )
    print("|---|---|---|---|---|---|---|")
    for overlap, estimate, declared, stats, _, _, _ in rows:
        busy, span = stats["busy_s"], stats["span_s"]
        print(
            f"| {'yes' if overlap else 'no'} | {estimate:.1f} | {declared:.1f} | {busy:.1f} | "
            f"{span:.1f} | {busy / span:.1%} | {1 - busy / span:.1%} |"
        )
    for overlap, _, _, _, report, wall, result in rows:
        print(
            f"\noverlap {overlap}: timings {source}; device frames {report['device_frames']:,} "
            f"(sentinels {report['sentinel_frames']:,}); wall {wall:.1f} s; test acc "
            f"{result['test_accuracy_physical']:.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default=os.environ.get("PHOTONIC_DAT_DATA", ""))
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--preset", default="mpnn-mnist")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-samples", type=int, default=0, help="0: all")
    parser.add_argument("--busy-train-samples", type=int, default=2000)
    parser.add_argument("--busy-val-samples", type=int, default=500)
    parser.add_argument("--busy-test-samples", type=int, default=1000)
    parser.add_argument("--skip", choices=("side-by-side", "busy"), default=None)
    parser.add_argument("--out", type=Path, default=Path("bench-out/remote"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    key = _key(args.out)
    if args.skip != "side-by-side":
        side_by_side(args, key)
    if args.skip != "busy":
        busy_share(args, key)


if __name__ == "__main__":
    main()
