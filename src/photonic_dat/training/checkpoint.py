"""Checkpoints as safetensors (+ JSON metadata): no pickle, safe to load from anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from photonic_dat.io import atomic_path, atomic_write_text


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
            raise ValueError(
                f"checkpoint does not match the {prefix!r} model: missing {missing[:4]}, "
                f"unexpected {unexpected[:4]}"
            )


def save_checkpoint(path: Path, state: dict[str, Tensor], meta: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format": "photonic-dat/1"})
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2, sort_keys=True))


def load_checkpoint(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return load_file(str(path))
