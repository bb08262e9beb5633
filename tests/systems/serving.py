"""A measurement server in a background thread, for tests on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from photonic_dat.config.serving import build_server
from photonic_dat.systems.server import MeasurementServer


def make_key(directory: Path, name: str = "key", secret: str = "s3cret-" * 6) -> Path:
    path = directory / name
    path.write_text(secret)
    os.chmod(path, 0o600)
    return path


@contextlib.contextmanager
def serving(config, key: Path, **kwargs) -> Iterator[MeasurementServer]:
    """A server for ``config`` on a free port of 127.0.0.1; stopped on exit."""
    server = build_server(config, address="tcp://127.0.0.1:*", key_file=str(key), **kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def remote_overrides(server: MeasurementServer, key: Path, *extra: str) -> list[str]:
    return [
        "system.kind=remote",
        f"system.address={server.address}",
        f"system.key_file={key}",
        "system.timeout_s=0.5",
        *extra,
    ]
