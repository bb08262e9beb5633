"""Reader for IDX files (the MNIST file format), plain or gzip-compressed."""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from photonic_dat.exceptions import DataError

__all__ = [
    "IDX_DTYPES",
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "DataError",
    "read_idx",
    "read_idx_images",
    "read_idx_labels",
]

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension

# IDX type code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """Return the (decompressed) content of ``path``."""
    try:
        with path.open("rb") as fh:
            raw = fh.read()
    except FileNotFoundError as exc:
        raise DataError(f"IDX file not found: {path}") from exc
    except OSError as exc:
        raise DataError(f"cannot read IDX file {path}: {exc}") from exc
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"corrupt or truncated gzip IDX file {path}: {exc}") from exc


def _parse_header(buf: bytes, path: Path) -> tuple[int, np.dtype, tuple[int, ...], int]:
    """Return (magic, dtype, shape, header size) of an IDX buffer."""
    if len(buf) < 4:
        raise DataError(f"truncated IDX file {path}: {len(buf)} bytes, no header")
    (magic,) = struct.unpack(">I", buf[:4])
    zero, code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if zero != 0 or ndim == 0:
        raise DataError(f"not an IDX file {path}: bad magic number {magic:#010x}")
    if code not in IDX_DTYPES:
        raise DataError(
            f"unsupported IDX data type code {code:#04x} in {path} "
            f"(supported: {', '.join(f'{c:#04x}' for c in IDX_DTYPES)})"
        )
    header_size = 4 + 4 * ndim
    if len(buf) < header_size:
        raise DataError(f"truncated IDX file {path}: header needs {header_size} bytes")
    shape = struct.unpack(f">{ndim}I", buf[4:header_size])
    return magic, np.dtype(IDX_DTYPES[code]), tuple(shape), header_size


def read_idx(path: str | os.PathLike[str], expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file into a native-endian numpy array.

    Raises ``DataError`` (naming the file) on a wrong magic number, a truncated
    file, trailing bytes or an unsupported data type.
    """
    path = Path(path)
    buf = _read_bytes(path)
    magic, dtype, shape, offset = _parse_header(buf, path)
    if expected_magic is not None and magic != expected_magic:
        raise DataError(
            f"wrong magic number in {path}: got {magic} ({magic:#010x}), "
            f"expected {expected_magic} ({expected_magic:#010x})"
        )
    count = int(np.prod(shape, dtype=np.int64))
    expected = offset + count * dtype.itemsize
    if len(buf) < expected:
        raise DataError(
            f"truncated IDX file {path}: {len(buf)} bytes, header {shape} needs {expected}"
        )
    if len(buf) > expected:
        raise DataError(
            f"malformed IDX file {path}: {len(buf) - expected} unexpected trailing bytes"
        )
    data = np.frombuffer(buf, dtype=dtype, count=count, offset=offset)
    return data.reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def read_idx_images(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file (magic 2051): uint8 array of shape [n, rows, cols]."""
    return read_idx(path, expected_magic=IMAGES_MAGIC)


def read_idx_labels(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a label file (magic 2049): uint8 array of shape [n]."""
    return read_idx(path, expected_magic=LABELS_MAGIC)
