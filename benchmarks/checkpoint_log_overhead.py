"""What checkpoints and the measurement log cost per training step, and the log's size.

For each preset (DAT w/ IS, MNIST-shaped random images, no data needed) it times
``Method.step`` alone, then the same steps with every measurement appended to the HDF5 log
(``system.record``), and writing a full training checkpoint (capture + safetensors + digests +
fsync + rename; ``train.checkpoint_every``) with the state of those steps. It prints one row
per preset:

    step ms         one training step without checkpoint or log
    log ms/step     time spent appending the step's measurement(s) to the log
    ckpt ms         one checkpoint (capture, write, fsync, rename, prune)
    ckpt MB         its size on disk
    +% log          log overhead per step
    +% ckpt/1, /100 checkpoint overhead per step at checkpoint_every = 1 and 100
    log B/frame     log file bytes per detector frame (all planes, inputs, settings, calls)
    raw B/frame     the measured values alone per frame

    python benchmarks/checkpoint_log_overhead.py [--presets mpnn-mnist,dpnn-cpu] [--steps 10]
        [--threads 1] [--checkpoints 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from photonic_dat.config.factory import Experiment, build_method, build_pnn, build_system
from photonic_dat.config.loading import load_config
from photonic_dat.systems.measurement_log import MeasurementLog, list_parts
from photonic_dat.training.checkpoint import CheckpointStore
from photonic_dat.training.state import LoopState, capture

OVERRIDES = {
    "mpnn-mnist": ["dat.sepn_start_epoch=0"],
    "dpnn-cpu": ["dat.sepn_start_epoch=0"],
    "dpnn-paper": ["dat.sepn_start_epoch=0", "train.batch_size=8"],
}


class TimedLog(MeasurementLog):
    seconds = 0.0

    def record(self, **kwargs) -> None:
        began = time.perf_counter()
        super().record(**kwargs)
        self.seconds += time.perf_counter() - began


def measure(preset: str, steps: int, checkpoints: int, workdir: Path) -> dict:
    cfg = load_config(preset, OVERRIDES.get(preset, []))
    pnn = build_pnn(cfg)
    system = build_system(cfg, pnn)
    method = build_method(cfg, pnn, system)
    exp = Experiment(cfg, None, system, method)  # splits unused: capture needs no data
    g = torch.Generator().manual_seed(0)
    batch = cfg.train.batch_size
    images = torch.rand(batch, 28, 28, generator=g)
    labels = torch.randint(0, 10, (batch,), generator=g)
    fields = method.encode(images)
    for _ in range(2):  # warm-up
        method.step(fields, labels)

    began = time.perf_counter()
    for _ in range(steps):
        method.step(fields, labels)
    step = (time.perf_counter() - began) / steps

    log = TimedLog(workdir / f"{preset}-log", info={"system": "simulated"})
    system.attach_recorder(log)
    frames0 = system.queries.total_frames
    for i in range(steps):
        with system.input_ids("train", torch.arange(batch) + i * batch):
            method.step(fields, labels)
    system.attach_recorder(None)
    log.close()
    frames = system.queries.total_frames - frames0
    log_bytes = sum(p.stat().st_size for p in list_parts(workdir / f"{preset}-log"))
    measured = method.system.measure(method.display_params(), fields[:1], method.taps)
    raw = sum(t.numel() * t.element_size() for t in (measured.output, *measured.taps.values()))
    raw_per_frame = raw / (1 + len(measured.taps))

    state = LoopState.initial(exp)
    state.order = torch.randperm(60_000, generator=g)
    store = CheckpointStore(workdir / f"{preset}-ckpt", keep=2)
    began = time.perf_counter()
    for i in range(checkpoints):
        state.step = i
        tensors, meta = capture(exp, state, {"log_records": 0})
        info = store.save(0, i + 1, tensors, meta)
    ckpt = (time.perf_counter() - began) / checkpoints
    size = sum(p.stat().st_size for p in info.path.iterdir())
    return {
        "preset": preset,
        "batch": batch,
        "step_ms": 1e3 * step,
        "log_ms": 1e3 * log.seconds / steps,
        "ckpt_ms": 1e3 * ckpt,
        "ckpt_mb": size / 2**20,
        "log_b_frame": log_bytes / frames,
        "raw_b_frame": raw_per_frame,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="mpnn-mnist,dpnn-cpu")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--checkpoints", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        rows = [
            measure(p.strip(), args.steps, args.checkpoints, Path(tmp))
            for p in args.presets.split(",")
        ]
    head = (
        f"{'preset':<12}{'batch':>6}{'step ms':>9}{'log ms/step':>12}{'ckpt ms':>9}"
        f"{'ckpt MB':>9}{'+% log':>8}{'+% ckpt/1':>10}{'/100':>7}{'log B/frame':>12}"
        f"{'raw B/frame':>12}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['preset']:<12}{r['batch']:>6}{r['step_ms']:>9.1f}{r['log_ms']:>12.2f}"
            f"{r['ckpt_ms']:>9.1f}{r['ckpt_mb']:>9.2f}{100 * r['log_ms'] / r['step_ms']:>8.1f}"
            f"{100 * r['ckpt_ms'] / r['step_ms']:>10.1f}"
            f"{r['ckpt_ms'] / r['step_ms']:>7.2f}{r['log_b_frame']:>12.0f}"
            f"{r['raw_b_frame']:>12.0f}"
        )


if __name__ == "__main__":
    main()
