"""SHA-256 digests of the files a run reads back, kept in a JSON sidecar per directory.

Every directory whose files are read back again (a run directory, each checkpoint) holds a
``digests.json`` that maps file names (relative, with ``/``) to their SHA-256. A file that is
read back is checked against it first, so that a truncated or altered file is reported in one
line that names it (:class:`~photonic_dat.exceptions.CorruptFileError`) instead of being
loaded half or failing deep inside a parser. Files written before digests existed (no entry)
are read without the check, but a parse failure is still reported as damage.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from photonic_dat.exceptions import CorruptFileError
from photonic_dat.io import atomic_write_text

__all__ = ["MANIFEST", "DigestBook", "sha256_file"]

MANIFEST = "digests.json"
_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class DigestBook:
    """The ``digests.json`` of one directory: record files after writing, verify before reading.

    Args:
        directory: the directory whose files are listed; names are relative to it.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / MANIFEST

    def entries(self) -> dict[str, str]:
        """The recorded digests (empty when the directory has no manifest)."""
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text())
            files = data["files"]
            if not isinstance(files, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in files.items()
            ):
                raise TypeError("'files' is not a mapping of names to digests")
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise CorruptFileError(self.path, f"unreadable digest list ({exc})") from None
        return dict(files)

    def record(self, *names: str | Path) -> None:
        """Compute and store the digests of ``names`` (files in the directory)."""
        self.record_all(names)

    def record_all(self, names: Iterable[str | Path]) -> None:
        files = self.entries()
        for name in names:
            key = Path(name).as_posix()
            files[key] = sha256_file(self.directory / key)
        body: dict[str, Any] = {"algorithm": "sha256", "files": dict(sorted(files.items()))}
        atomic_write_text(self.path, json.dumps(body, indent=2))

    def record_tree(self, subdirectory: str) -> None:
        """Record every file under ``subdirectory`` (e.g. the device record ``system/``)."""
        root = self.directory / subdirectory
        names = sorted(
            p.relative_to(self.directory).as_posix()
            for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        self.record_all(names)

    def forget(self, *names: str) -> None:
        files = self.entries()
        if any(files.pop(Path(n).as_posix(), None) is not None for n in names):
            body = {"algorithm": "sha256", "files": dict(sorted(files.items()))}
            atomic_write_text(self.path, json.dumps(body, indent=2))

    def verify(self, name: str | Path, *, required: bool = False) -> Path:
        """Check one file against its recorded digest; returns its path.

        Raises:
            FileNotFoundError: the file is missing.
            CorruptFileError: the digest differs, or ``required`` and none is recorded.
        """
        key = Path(name).as_posix()
        path = self.directory / key
        if not path.is_file():
            raise FileNotFoundError(f"file missing: {path}")
        expected = self.entries().get(key)
        if expected is None:
            if required:
                raise CorruptFileError(path, f"no digest recorded in {self.path}")
            return path
        actual = sha256_file(path)
        if actual != expected:
            raise CorruptFileError(
                path, f"SHA-256 {actual[:12]}... differs from {expected[:12]}... in {self.path}"
            )
        return path

    def verify_all(self, *, required: bool = True) -> None:
        """Check every file the manifest lists (and that it lists at least one)."""
        files = self.entries()
        if required and not files:
            raise CorruptFileError(self.path, "missing or empty digest list")
        for name in files:
            self.verify(name)

    def read_text(self, name: str | Path) -> str:
        path = self.verify(name)
        try:
            return path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CorruptFileError(path, str(exc)) from None

    def read_json(self, name: str | Path) -> Any:
        path = self.verify(name)
        try:
            return json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CorruptFileError(path, f"not valid JSON ({exc})") from None
