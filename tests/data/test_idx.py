"""Tests for the IDX reader."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from photonic_dat.data import DataError, read_idx, read_idx_images, read_idx_labels

_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int16): 0x0B, np.dtype(np.float32): 0x0D}


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise ``array`` in IDX format (big-endian)."""
    code = _CODES[array.dtype]
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_images_and_labels_round_trip(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=5, dtype=np.uint8)
    img_path = write(tmp_path / f"images{suffix}", idx_bytes(images))
    lbl_path = write(tmp_path / f"labels{suffix}", idx_bytes(labels))

    got_images = read_idx_images(img_path)
    got_labels = read_idx_labels(lbl_path)

    assert got_images.dtype == np.uint8 and got_images.shape == (5, 4, 3)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert got_images.flags.writeable


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_generic_dtypes_are_native_endian(tmp_path: Path, dtype: type) -> None:
    array = np.arange(-6, 6).reshape(3, 4).astype(dtype)
    got = read_idx(write(tmp_path / "x.idx", idx_bytes(array)))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, array)


def test_wrong_magic_names_file(tmp_path: Path) -> None:
    path = write(tmp_path / "labels-as-images", idx_bytes(np.zeros(3, dtype=np.uint8)))
    with pytest.raises(DataError, match="labels-as-images") as info:
        read_idx_images(path)
    assert "magic" in str(info.value)


def test_not_idx_at_all(tmp_path: Path) -> None:
    path = write(tmp_path / "junk.bin", b"hello world, not idx")
    with pytest.raises(DataError, match="junk.bin"):
        read_idx(path)


def test_unsupported_dtype_code(tmp_path: Path) -> None:
    path = write(tmp_path / "odd.idx", struct.pack(">BBBBI", 0, 0, 0x0A, 1, 1) + b"\0")
    with pytest.raises(DataError, match=r"unsupported IDX data type code 0x0a in .*odd\.idx"):
        read_idx(path)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_truncated_data_names_file(tmp_path: Path, suffix: str) -> None:
    data = idx_bytes(np.zeros((4, 2, 2), dtype=np.uint8))[:-3]
    path = write(tmp_path / f"short-images{suffix}", data)
    with pytest.raises(DataError, match="short-images") as info:
        read_idx_images(path)
    assert "truncated" in str(info.value)


def test_truncated_header(tmp_path: Path) -> None:
    path = write(tmp_path / "hdr", idx_bytes(np.zeros((4, 2, 2), dtype=np.uint8))[:10])
    with pytest.raises(DataError, match="truncated.*hdr"):
        read_idx(path)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(100, dtype=np.uint8)))[:-10])
    with pytest.raises(DataError, match=r"cut\.gz"):
        read_idx_labels(path)


def test_trailing_bytes_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "long", idx_bytes(np.zeros(3, dtype=np.uint8)) + b"\0\0")
    with pytest.raises(DataError, match="trailing") as info:
        read_idx_labels(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope"):
        read_idx(tmp_path / "nope")
