"""Independent random streams, one per purpose.

A run has two seeds: ``seed`` (the trainer's side: initialisation, data split, data order,
SEPN initialisation, calibration probes) and ``errors.seed`` (the device: its hidden
systematic errors and its detector noise). Seeding two ``torch.Generator`` objects with the
same integer gives identical streams, so equal seeds would correlate, say, a mask's initial
phases with the device's per-pixel errors. Every purpose therefore draws from its own
stream, whose seed is a hash of the purpose and the user's seed: equal user seeds give
unrelated streams, and changing one purpose's use of randomness leaves the others unchanged.
"""

from __future__ import annotations

import hashlib

import torch

__all__ = ["STREAMS", "stream_generator", "stream_seed"]

#: the purposes that draw random numbers, and which seed each one derives from
STREAMS = {
    "init": "seed",  # the twin's initial optical parameters
    "sepn-init": "seed",  # SEPN weights
    "data-split": "seed",  # validation carve-out and training-set cap
    "data-order": "seed",  # batch order in every epoch
    "val-subset": "seed",  # validation cap (data.val_samples)
    "calibration": "seed",  # probe settings and inputs of the calibration baseline
    "frame-checks": "seed",  # where sentinels sit in each request to a remote device
    "device": "errors.seed",  # the hidden systematic errors
    "detector-noise": "errors.seed",  # shot / read noise of every frame
    "drift": "errors.seed",  # slow drift of the device
}


def stream_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for ``stream`` derived from the user's ``seed`` (SHA-256, stable)."""
    if stream not in STREAMS:
        raise KeyError(f"unknown random stream {stream!r}; known: {sorted(STREAMS)}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    digest = hashlib.sha256(f"photonic-dat/{stream}/{int(seed)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def stream_generator(seed: int, stream: str) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded for ``stream``."""
    return torch.Generator().manual_seed(stream_seed(seed, stream))
