"""The shared secret that authenticates every message between trainer and measurement server.

With no key file named, both ends use a per-user file,
``$XDG_CONFIG_HOME/photonic-dat/key`` (``~/.config/photonic-dat/key``), created on first use
with 32 random bytes and mode 0600: a server and a client started by the same user on the same
machine then work out of the box, and other users cannot talk to the device. For a trainer on
another machine, copy that file there (``scp``, mode 0600) and name it with
``system.key_file`` / ``serve --key-file``.
"""

from __future__ import annotations

import os
import secrets
import stat
import time
from pathlib import Path

from photonic_dat.exceptions import ConfigError

__all__ = ["KEY_FILE_ENV", "default_key_path", "load_key"]

#: environment variable naming a key file (overridden by an explicit path)
KEY_FILE_ENV = "PHOTONIC_DAT_KEY_FILE"
MIN_KEY_BYTES = 16


def default_key_path() -> Path:
    """``$XDG_CONFIG_HOME/photonic-dat/key``, else ``~/.config/photonic-dat/key``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "photonic-dat" / "key"


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def load_key(path: str | os.PathLike[str] | None = None, *, create: bool = True) -> bytes:
    """The secret in ``path`` (or ``$PHOTONIC_DAT_KEY_FILE``, or the per-user default file,
    created if missing when ``create``). Refuses a file that others can read or write."""
    explicit = path if path is not None else os.environ.get(KEY_FILE_ENV)
    key_path = Path(explicit).expanduser() if explicit else default_key_path()
    if not key_path.exists():
        if explicit or not create:
            raise ConfigError(f"key file not found: {key_path}")
        _create(key_path)
    mode = stat.S_IMODE(key_path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"key file {key_path} is open to other users (mode {mode:04o}); run chmod 600 on it"
        )
    for _ in range(50):  # a file being created by another process may be empty for a moment
        secret = key_path.read_text().strip().encode()
        if secret:
            break
        time.sleep(0.01)
    if len(secret) < MIN_KEY_BYTES:
        raise ConfigError(f"key file {key_path} holds fewer than {MIN_KEY_BYTES} bytes")
    return secret
