"""Configuration presets shipped as package data (``photonic_dat/presets/*.yaml``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from photonic_dat.exceptions import ConfigError

SUFFIX = ".yaml"


def _presets_dir():
    return resources.files("photonic_dat") / "presets"


def list_presets() -> list[str]:
    """Sorted names of the shipped presets (file names without ``.yaml``)."""
    return sorted(
        p.name.removesuffix(SUFFIX) for p in _presets_dir().iterdir() if p.name.endswith(SUFFIX)
    )


def preset_path(name: str) -> Path:
    """The YAML file of preset ``name`` (e.g. ``"dpnn-cpu"``; a trailing ``.yaml`` is allowed).

    Raises :class:`~photonic_dat.exceptions.ConfigError` naming the available presets when
    there is no such preset.
    """
    stem = name.removesuffix(SUFFIX)
    if not stem or "/" in stem or "\\" in stem:
        raise ConfigError(f"invalid preset name {name!r}")
    candidate = _presets_dir() / f"{stem}{SUFFIX}"
    if not candidate.is_file():
        raise ConfigError(f"no preset {name!r}; available: {', '.join(list_presets())}")
    return Path(str(candidate))
