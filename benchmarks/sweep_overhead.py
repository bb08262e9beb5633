"""What a sweep costs beyond the training itself, per run, for each executor.

A sweep of ``--runs`` tiny runs (MPNN of 16 ports, 1 epoch on 100 digits, PAT; one trainer
seed each) runs on every executor asked for; the table splits each run's cost into

* training: the run's ``train_seconds`` (the epochs);
* in the run: the rest of the run's own time (building data, twin and device, the test
  measurement, checkpoint, plots, files);
* executor: slot time not spent inside a run (worker or job start, scheduling, polling),
  ``(slots x wall - sum of run times) / runs``, with ``slots`` the runs the executor holds at
  once (local: --jobs; slurm: the array throttle, --jobs too).

    python benchmarks/sweep_overhead.py --executors local,slurm --runs 50 --jobs 2

The slurm executor needs a Slurm cluster (``../shared/slurm/start-slurm.sh`` starts one).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from photonic_dat.experiments.executors import SlurmOptions, make_executor
from photonic_dat.experiments.spec import parse_spec
from photonic_dat.experiments.sweep import RUNS, run_sweep

TINY = {
    "mpnn.ports": 16,
    "mpnn.meshes": 2,
    "data.train_samples": 100,
    "data.val_samples": 50,
    "data.test_samples": 100,
    "train.epochs": 1,
    "train.batch_size": 50,
}


def measure(kind: str, runs: int, jobs: int, partition: str | None) -> dict[str, float]:
    spec = parse_spec(
        {
            "name": f"overhead-{kind}",
            "preset": "mpnn-digits",
            "set": TINY,
            "grid": {"seed": list(range(runs))},
            "methods": ["pat"],
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        options = SlurmOptions(partition=partition, time_min=10, array_parallelism=jobs)
        executor = make_executor(kind, root, jobs, options)
        start = time.perf_counter()
        outcome = run_sweep(spec, root, executor, retries=0, report=False)
        wall = time.perf_counter() - start
        if set(outcome.states.values()) != {"done"}:
            raise SystemExit(f"{kind}: not every run finished: {outcome.counts()}")
        train, inside = [], []
        for status in (root / RUNS).rglob("status.json"):
            attempt = json.loads(status.read_text())["attempts"][-1]
            result = json.loads((status.parent / "result.json").read_text())
            train.append(result["train_seconds"])
            inside.append(attempt["seconds"] - result["train_seconds"])
    slots = 1 if kind == "inline" else jobs
    busy = sum(train) + sum(inside)
    return {
        "wall": wall,
        "slots": slots,
        "train": statistics.fmean(train),
        "inside": statistics.fmean(inside),
        "executor": (slots * wall - busy) / runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executors", default="inline,local")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--partition", default=None)
    args = parser.parse_args()
    rows = {k: measure(k, args.runs, args.jobs, args.partition) for k in args.executors.split(",")}
    print(f"{args.runs} tiny runs per executor; seconds per run (mean)")
    print(
        f"{'executor':<9} {'slots':>5} {'wall s':>8} {'training':>9} {'in the run':>11} "
        f"{'executor':>9} {'beyond training':>16}"
    )
    for kind, r in rows.items():
        beyond = r["inside"] + r["executor"]
        print(
            f"{kind:<9} {r['slots']:>5} {r['wall']:>8.1f} {r['train']:>9.2f} "
            f"{r['inside']:>11.2f} {r['executor']:>9.2f} {beyond:>16.2f}"
        )


if __name__ == "__main__":
    main()
