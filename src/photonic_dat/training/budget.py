"""Device time before a run: what a configuration will ask of the device (``train --dry-run``).

From the configuration alone (data sizes, epochs, batch size, the method and the planes it
measures, the reference pattern, a remote device's sentinels) the estimate counts, for each
phase of a run, the samples sent, the frames read (one per sample per plane) and the
parameter uploads, and prices them at the device's declared timings. It follows the training
loop exactly: a step measures its batch once (DAT's separable mode also drives each block with
an SEPN alone), each epoch ends with a validation pass, and the selected model is measured on
the validation and test splits at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from photonic_dat.config.schema import RunConfig
from photonic_dat.systems.timing import DeviceTimings

__all__ = ["DevicePhase", "estimate_device_time"]


@dataclass(frozen=True)
class DevicePhase:
    """What one phase of a run costs on the device."""

    name: str
    samples: int
    frames: int
    uploads: int
    seconds: float


def _phase(
    name: str, samples: int, frames: int, uploads: int, timings: DeviceTimings
) -> DevicePhase:
    return DevicePhase(name, samples, frames, uploads, timings.seconds(frames, uploads))


def estimate_device_time(
    config: RunConfig,
    sizes: tuple[int, int, int],
    taps: tuple[int, ...],
    sepn_blocks: int,
    timings: DeviceTimings,
    sentinels: int = 0,
) -> list[DevicePhase]:
    """Phases of a run (training, validation, final measurement, reference pattern).

    Args:
        config: the run's configuration.
        sizes: (train, validation, test) samples.
        taps: internal taps the method measures in DAT ``unitary`` / ``none`` mode.
        sepn_blocks: blocks with an SEPN (driven alone in DAT ``separable`` mode).
        timings: the device's declared timings.
        sentinels: sentinel inputs per request (a remote device), counted as frames.
    """
    n_train, n_val, n_test = sizes
    t = config.train
    epochs, steps = t.epochs, math.ceil(n_train / t.batch_size)
    uses_system = config.method != "insilico"
    trains_on_system = uses_system and config.method != "calibration"
    mode = config.dat.internal_states if config.method == "dat" else "none"
    planes = 1 + (len(taps) if mode in ("unitary", "separable") else 0)

    def batches(n: int, size: int) -> int:
        return math.ceil(n / size) if n else 0

    phases = []
    c = config.calibration
    if config.method == "calibration" or (c.enabled and trains_on_system):
        # the probe budget (photonic_dat.calibration.fit): about c.frames over all planes
        probe_planes = 1 + len(taps)
        frames = c.frames or epochs * n_train * probe_planes
        rounds = math.ceil(frames / probe_planes / c.batch_size)
        phases.append(
            _phase("calibration probes (approx.)", frames // probe_planes, frames, rounds, timings)
        )
    if trains_on_system:
        frames = epochs * (n_train * planes + steps * sentinels * planes)
        block_samples = epochs * n_train * sepn_blocks if mode == "separable" else 0
        block_frames = block_samples + epochs * steps * sepn_blocks * sentinels * (
            mode == "separable"
        )
        phases.append(
            _phase(
                "training",
                epochs * n_train + block_samples,
                frames + block_frames,
                epochs * steps,
                timings,
            )
        )
    if uses_system:
        val_requests = batches(n_val, t.eval_batch_size)
        phases.append(
            _phase(
                "validation (every epoch)",
                epochs * n_val,
                epochs * (n_val + val_requests * sentinels),
                epochs,
                timings,
            )
        )
    n_test = n_test if t.measure_test else 0
    final_requests = batches(n_val, t.eval_batch_size) + batches(n_test, t.eval_batch_size)
    phases.append(
        _phase(
            "final (validation + test)" if n_test else "final (validation)",
            n_val + n_test,
            n_val + n_test + final_requests * sentinels,
            1,
            timings,
        )
    )
    if uses_system and t.reference_every:
        count = math.ceil(epochs * steps / t.reference_every)
        ref_planes = 1 + len(taps)
        samples = count * t.reference_samples
        phases.append(
            _phase(
                "reference pattern",
                samples,
                count * (t.reference_samples + sentinels) * ref_planes,
                count,
                timings,
            )
        )
    return phases


def plan_run(config: RunConfig) -> tuple[list[DevicePhase], DeviceTimings, str]:
    """The estimate for ``config`` and where its timings come from (the config's
    ``system.timings``, or a remote device's declaration when it answers)."""
    from photonic_dat.config.factory import build_pnn, load_splits

    splits = load_splits(config)
    pnn = build_pnn(config)
    s = config.system
    taps = pnn.internal_taps if s.internal_taps else ()
    sepn_blocks = sum(1 for b in pnn.blocks if b.measurable and b.has_sepn)
    timings = DeviceTimings(**s.timings.model_dump())
    source = "system.timings"
    sentinels = 0
    if s.kind == "remote":
        from photonic_dat.exceptions import PhotonicDATError
        from photonic_dat.systems.keys import load_key
        from photonic_dat.systems.remote import remote_info

        sentinels = s.sentinels
        try:
            assert s.address is not None
            info = remote_info(s.address, load_key(s.key_file), timeout_s=min(s.timeout_s, 5.0))
            timings = DeviceTimings(**info["timings"])
            source = f"declared by {info['identity']['system']} at {s.address}"
        except PhotonicDATError as exc:
            source = f"system.timings (the server did not answer: {exc})"
    sizes = (len(splits.train), len(splits.val), len(splits.test))
    phases = estimate_device_time(config, sizes, taps, sepn_blocks, timings, sentinels)
    return phases, timings, source
