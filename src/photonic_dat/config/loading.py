"""Reading, overriding and validating configurations, with errors that name the key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from photonic_dat.config.presets import list_presets, preset_path
from photonic_dat.config.schema import RunConfig
from photonic_dat.exceptions import ConfigError

__all__ = ["ConfigError", "dump_config", "load_config"]


def _format_validation(err: ValidationError) -> str:
    lines = []
    for item in err.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        msg = item["msg"]
        if item["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{key}: {msg}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` with the value parsed as YAML (numbers, booleans, lists, null)."""
    if "=" not in text:
        raise ConfigError(f"--set expects KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set has an empty key in {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: cannot parse value {raw!r}: {exc}") from None
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {'.'.join(path)}: {part} is not a section")
            node = child
        node[path[-1]] = value
    return data


def build_config(data: Mapping[str, Any]) -> RunConfig:
    try:
        return RunConfig.model_validate(dict(data))
    except ValidationError as err:
        raise ConfigError(_format_validation(err)) from None


DEFAULT_PRESET = "mpnn-digits"


def resolve_config_path(path: str | Path | None) -> Path:
    """A YAML file path, or a preset name (``mpnn-mnist``); ``None`` is the embedded default."""
    if path is None:
        path = DEFAULT_PRESET
    candidate = Path(path)
    if candidate.is_file():
        return candidate
    try:
        return preset_path(str(path))
    except ValueError:
        raise ConfigError(
            f"config file not found: {path} (presets: {', '.join(list_presets())})"
        ) from None


def load_config(
    path: str | Path | None = None, overrides: Iterable[str] = (), *, preset_default: bool = False
) -> RunConfig:
    """Read a YAML file or preset, apply ``--set`` overrides, validate.

    ``path=None`` starts from the schema defaults, or from the embedded default preset
    (``mpnn-digits``) when ``preset_default`` is true (what the CLI does).
    """
    data: dict[str, Any] = {}
    if path is not None or preset_default:
        path = resolve_config_path(path)
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys")
        data = loaded
    return build_config(apply_overrides(data, overrides))


def dump_config(config: RunConfig) -> str:
    """The resolved configuration as YAML (what a run directory's ``config.yaml`` holds)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
