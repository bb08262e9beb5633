"""Error realisations: the drawn tensors of one device, seeded, saved as safetensors + JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from photonic_dat.exceptions import MissingFileError, RuntimeFailure
from photonic_dat.io import atomic_path, atomic_write_text

_SEP = "."


@dataclass
class ErrorRealisation:
    """Per-block error tensors of one physical device plus metadata (spec, seed).

    ``blocks[k]`` maps an error name to its tensor for block ``k`` (empty for error-free
    blocks). ``meta`` is JSON-serialisable (the specification and seed it was drawn from).
    """

    blocks: list[dict[str, Tensor]]
    meta: dict[str, Any] = field(default_factory=dict)

    def block(self, index: int) -> dict[str, Tensor]:
        return self.blocks[index]

    def map(self, fn: Callable[[Tensor], Tensor]) -> ErrorRealisation:
        """The realisation with ``fn`` applied to every tensor (``Module._apply`` style)."""
        moved = [{name: fn(t) for name, t in errs.items()} for errs in self.blocks]
        return ErrorRealisation(blocks=moved, meta=self.meta)

    def to(self, device: torch.device | str) -> ErrorRealisation:
        """The same realisation with its tensors on ``device`` (drawn values unchanged)."""
        return self.map(lambda t: t.to(device))

    def flat(self) -> dict[str, Tensor]:
        return {
            f"block{k}{_SEP}{name}": t.detach().contiguous().cpu()
            for k, errs in enumerate(self.blocks)
            for name, t in errs.items()
        }

    def digest(self) -> str:
        """SHA-256 over names, dtypes, shapes and bytes of every tensor (bit-exact identity)."""
        h = hashlib.sha256()
        for name, t in sorted(self.flat().items()):
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
            h.update(t.numpy().tobytes())
        return h.hexdigest()

    def save(self, directory: str | Path, stem: str = "errors") -> tuple[Path, Path]:
        """Write ``<stem>.safetensors`` and ``<stem>.json`` atomically; returns both paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors_path = directory / f"{stem}.safetensors"
        meta_path = directory / f"{stem}.json"
        with atomic_path(tensors_path) as tmp:
            save_file(self.flat(), str(tmp))
        info = {"num_blocks": len(self.blocks), "digest": self.digest(), "meta": self.meta}
        atomic_write_text(meta_path, json.dumps(info, indent=2, sort_keys=True))
        return tensors_path, meta_path

    @classmethod
    def load(cls, directory: str | Path, stem: str = "errors") -> ErrorRealisation:
        directory = Path(directory)
        meta_path = directory / f"{stem}.json"
        tensors_path = directory / f"{stem}.safetensors"
        for p in (meta_path, tensors_path):
            if not p.is_file():
                raise MissingFileError(f"error realisation file missing: {p}")
        info = json.loads(meta_path.read_text())
        flat = load_file(str(tensors_path))
        blocks: list[dict[str, Tensor]] = [{} for _ in range(int(info["num_blocks"]))]
        for key, tensor in flat.items():
            prefix, name = key.split(_SEP, 1)
            blocks[int(prefix.removeprefix("block"))][name] = tensor
        realisation = cls(blocks=blocks, meta=info.get("meta", {}))
        if info.get("digest") and realisation.digest() != info["digest"]:
            raise RuntimeFailure(f"error realisation in {directory} does not match its digest")
        return realisation


def draw_realisation(
    blocks: list[Any], spec: Any, seed: int, meta: Mapping[str, Any] | None = None
) -> ErrorRealisation:
    """Draw one device: each block draws the errors of its own physics from ``spec``."""
    generator = torch.Generator().manual_seed(int(seed))
    drawn = [
        dict(block.draw_errors(spec, generator)) if hasattr(block, "draw_errors") else {}
        for block in blocks
    ]
    return ErrorRealisation(blocks=drawn, meta={"seed": int(seed), **dict(meta or {})})
