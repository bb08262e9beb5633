"""Checkpoints as safetensors + JSON: no pickle, safe to load from anywhere.

Two kinds:

* the selected model of a finished run, ``model.safetensors`` (+ ``model.json``);
* training checkpoints that hold everything needed to continue a run (see
  :mod:`photonic_dat.training.state`), kept by a :class:`CheckpointStore` as directories
  ``checkpoints/ckpt-eEEEE-bBBBBBB`` (the state at the start of batch ``B`` of epoch ``E``,
  both from 0), each with ``state.safetensors``, ``state.json`` and a ``digests.json``.

A checkpoint directory is written under a temporary name and renamed into place once all its
files and their digests are on disk, so a kill at any moment leaves either the whole
checkpoint or none; a file damaged later is caught by its digest and the store falls back to
the newest checkpoint that verifies.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from photonic_dat.exceptions import CorruptFileError, MissingFileError, UsageError
from photonic_dat.integrity import DigestBook
from photonic_dat.io import atomic_path, atomic_write_text

logger = logging.getLogger(__name__)

FORMAT = "photonic-dat/1"
STATE_FORMAT = "photonic-dat-training-state/1"


# -- module parameters ----------------------------------------------------------------------
def flat_state(modules: dict[str, nn.Module]) -> dict[str, Tensor]:
    return {
        f"{prefix}/{name}": t.detach().contiguous().cpu().clone()
        for prefix, module in modules.items()
        for name, t in module.state_dict().items()
    }


def load_flat_state(modules: dict[str, nn.Module], state: dict[str, Tensor]) -> None:
    for prefix, module in modules.items():
        own = {k.split("/", 1)[1]: v for k, v in state.items() if k.startswith(prefix + "/")}
        missing, unexpected = module.load_state_dict(own, strict=False)
        if missing or unexpected:
            raise UsageError(
                f"checkpoint does not match the {prefix!r} model: missing {missing[:4]}, "
                f"unexpected {unexpected[:4]}"
            )


def save_checkpoint(path: Path, state: dict[str, Tensor], meta: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format": FORMAT})
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2, sort_keys=True))


def read_tensors(path: Path) -> dict[str, Tensor]:
    """Load a safetensors file; a truncated or garbled one is reported as damage."""
    if not path.is_file():
        raise MissingFileError(f"checkpoint not found: {path}")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own SafetensorError (no common base)
        raise CorruptFileError(path, f"not a readable safetensors file ({exc})") from None


def load_checkpoint(path: Path) -> dict[str, Tensor]:
    return read_tensors(path)


# -- optimisers and schedules ---------------------------------------------------------------
def optimiser_state(
    optimiser: torch.optim.Optimizer, prefix: str
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """An optimiser's state as flat tensors (``prefix/state/I/KEY``) plus JSON (groups)."""
    sd = optimiser.state_dict()
    tensors: dict[str, Tensor] = {}
    values: dict[str, dict[str, Any]] = {}
    for index, entries in sd["state"].items():
        for key, value in entries.items():
            if isinstance(value, Tensor):
                tensors[f"{prefix}/state/{index}/{key}"] = value.detach().cpu().clone()
            else:
                values.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "values": values}


def load_optimiser_state(
    optimiser: torch.optim.Optimizer,
    prefix: str,
    tensors: Mapping[str, Tensor],
    meta: Mapping[str, Any],
) -> None:
    state: dict[int, dict[str, Any]] = {}
    head = f"{prefix}/state/"
    for name, value in tensors.items():
        if name.startswith(head):
            index, key = name[len(head) :].split("/", 1)
            state.setdefault(int(index), {})[key] = value
    for index, entries in meta["values"].items():
        state.setdefault(int(index), {}).update(entries)
    groups = []
    for saved, current in zip(meta["param_groups"], optimiser.param_groups, strict=True):
        # JSON turns tuples (Adam's betas) into lists: give them back their type
        groups.append(
            {
                k: tuple(v) if isinstance(current.get(k), tuple) and isinstance(v, list) else v
                for k, v in saved.items()
            }
        )
    optimiser.load_state_dict({"state": state, "param_groups": groups})


# -- training checkpoints -------------------------------------------------------------------
@dataclass(frozen=True)
class CheckpointInfo:
    """A training checkpoint on disk: the position it continues from."""

    path: Path
    epoch: int
    batch: int

    @property
    def name(self) -> str:
        return self.path.name


def checkpoint_name(epoch: int, batch: int) -> str:
    return f"ckpt-e{epoch:04d}-b{batch:06d}"


def _parse_name(name: str) -> tuple[int, int] | None:
    parts = name.split("-")
    if len(parts) != 3 or parts[0] != "ckpt" or parts[1][:1] != "e" or parts[2][:1] != "b":
        return None
    try:
        return int(parts[1][1:]), int(parts[2][1:])
    except ValueError:
        return None


class CheckpointStore:
    """The training checkpoints of one run directory (``RUN_DIR/checkpoints``).

    Args:
        directory: where checkpoints live.
        keep: how many of the newest checkpoints to keep (older ones are removed once a new
            one is complete); two or more let a resume fall back past a damaged newest one.
    """

    STATE = "state.safetensors"
    META = "state.json"

    def __init__(self, directory: str | Path, keep: int = 2) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.directory = Path(directory)
        self.keep = keep

    def list(self) -> list[CheckpointInfo]:
        """Complete checkpoint directories, oldest first (not checked for damage)."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            pos = _parse_name(path.name)
            if pos is not None and path.is_dir():
                found.append(CheckpointInfo(path, *pos))
        return sorted(found, key=lambda c: (c.epoch, c.batch))

    def save(
        self, epoch: int, batch: int, tensors: dict[str, Tensor], meta: dict[str, Any]
    ) -> CheckpointInfo:
        """Write one checkpoint atomically (temporary directory, fsync, rename)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = checkpoint_name(epoch, batch)
        final = self.directory / name
        tmp = self.directory / f".tmp-{name}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        save_file(tensors, str(tmp / self.STATE), metadata={"format": STATE_FORMAT})
        body = {"format": STATE_FORMAT, "epoch": epoch, "batch": batch, **meta}
        (tmp / self.META).write_text(json.dumps(body, indent=1, sort_keys=True))
        DigestBook(tmp).record(self.STATE, self.META)
        for child in tmp.iterdir():
            _fsync(child)
        _fsync(tmp)
        if final.exists():  # a checkpoint at this position from an abandoned attempt
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync(self.directory)
        self._prune()
        return CheckpointInfo(final, epoch, batch)

    def _prune(self) -> None:
        for old in self.list()[: -self.keep]:
            shutil.rmtree(old.path, ignore_errors=True)

    def read(self, info: CheckpointInfo) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Verify a checkpoint against its digests and load it."""
        book = DigestBook(info.path)
        book.verify_all(required=True)
        book.verify(self.STATE, required=True)
        meta = book.read_json(self.META)
        if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
            raise CorruptFileError(info.path / self.META, "not a photonic-dat training state")
        return read_tensors(info.path / self.STATE), meta

    def latest(self) -> tuple[CheckpointInfo, dict[str, Tensor], dict[str, Any]] | None:
        """The newest checkpoint that verifies, or ``None``; damaged newer ones are reported
        in one warning line that names the file, and skipped."""
        for info in reversed(self.list()):
            try:
                tensors, meta = self.read(info)
            except (CorruptFileError, FileNotFoundError) as exc:
                logger.warning("checkpoint %s skipped: %s", info.name, exc)
                continue
            return info, tensors, meta
        return None

    def discard_after(self, info: CheckpointInfo | None) -> None:
        """Remove checkpoints newer than ``info`` (all of them for ``None``) and leftovers of
        writes cut short."""
        if not self.directory.is_dir():
            return
        for path in self.directory.glob(".tmp-*"):
            shutil.rmtree(path, ignore_errors=True)
        for other in self.list():
            if info is None or (other.epoch, other.batch) > (info.epoch, info.batch):
                shutil.rmtree(other.path, ignore_errors=True)

    def clear(self) -> None:
        if self.directory.is_dir():
            shutil.rmtree(self.directory)


def _fsync(path: Path) -> None:
    """Flush a file or directory to the disk (a checkpoint must survive a power cut too)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
