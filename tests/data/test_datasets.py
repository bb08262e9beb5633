"""Tests for data set containers, loaders and batching."""

from __future__ import annotations

import gzip
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from photonic_dat.data import (
    DATA_ENV_VAR,
    DataError,
    ImageDataset,
    find_idx_files,
    iterate_batches,
    load_dataset,
    load_digits,
    load_idx_dataset,
)

STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
N_TRAIN, N_TEST = 200, 50


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array in IDX format."""
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, 0x08, array.ndim, *array.shape)
    return header + array.astype(np.uint8).tobytes()


def tagged_images(n: int, offset: int) -> np.ndarray:
    """4x4 uint8 images whose first two pixels encode ``offset + i``."""
    images = np.zeros((n, 4, 4), dtype=np.uint8)
    ids = np.arange(n) + offset
    images[:, 0, 0], images[:, 0, 1] = ids % 256, ids // 256
    images[:, 3, 3] = 255
    return images


def image_ids(dataset: ImageDataset) -> np.ndarray:
    pixels = torch.round(dataset.images[:, 0, :2] * 255).to(torch.int64).numpy()
    return pixels[:, 0] + 256 * pixels[:, 1]


def write_idx_set(folder: Path, gz: bool = False, n_test_labels: int = N_TEST) -> Path:
    """Write a tiny MNIST-style data set (train ids 0.., test ids 1000..)."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": tagged_images(N_TRAIN, 0),
        "train_labels": np.arange(N_TRAIN) % 10,
        "test_images": tagged_images(N_TEST, 1000),
        "test_labels": np.arange(n_test_labels) % 10,
    }
    for key, array in arrays.items():
        data = idx_bytes(array)
        path = folder / (STEMS[key] + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data) if gz else data)
    return folder


# --- ImageDataset -------------------------------------------------------------


def make_dataset(n: int = 6) -> ImageDataset:
    return ImageDataset(torch.rand(n, 3, 3), torch.arange(n) % 10, "toy")


def test_image_dataset_basics() -> None:
    ds = make_dataset()
    assert len(ds) == 6 and ds.image_shape == (3, 3)
    sub = ds.subset([4, 1])
    assert len(sub) == 2 and sub.name == "toy"
    torch.testing.assert_close(sub.images, ds.images[[4, 1]])
    assert sub.labels.tolist() == [4, 1]
    assert len(ds.subset(np.array([], dtype=np.int64))) == 0
    assert len(ds.subset(torch.tensor([0, 0, 5]))) == 3
    with pytest.raises(AttributeError):
        ds.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("images", "labels", "match"),
    [
        (torch.rand(3, 2, 2).double(), torch.arange(3), "float32"),
        (torch.rand(3, 4), torch.arange(3), r"\[n, H, W\]"),
        (torch.full((3, 2, 2), 2.0), torch.arange(3), r"\[0, 1\]"),
        (torch.rand(3, 2, 2), torch.arange(3).int(), "int64"),
        (torch.rand(3, 2, 2), torch.tensor([0, 1, 10]), "labels must lie"),
        (torch.rand(3, 2, 2), torch.arange(2), "3 images but 2 labels"),
    ],
)
def test_image_dataset_validation(images: torch.Tensor, labels: torch.Tensor, match: str) -> None:
    with pytest.raises(DataError, match=match):
        ImageDataset(images, labels, "bad")


def test_subset_rejects_masks() -> None:
    with pytest.raises(DataError, match="1-D integer"):
        make_dataset().subset(torch.ones(6, dtype=torch.bool))


# --- iterate_batches ----------------------------------------------------------


def test_iterate_batches_in_order_with_partial_last() -> None:
    x, y = torch.arange(10.0).reshape(10, 1), torch.arange(10)
    batches = list(iterate_batches(x, y, 4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert torch.cat([b[1] for b in batches]).tolist() == list(range(10))
    assert all(torch.equal(bx[:, 0].long(), by) for bx, by in batches)


def test_iterate_batches_shuffles_with_generator() -> None:
    x, y = torch.arange(50.0), torch.arange(50)

    def order(seed: int) -> list[int]:
        gen = torch.Generator().manual_seed(seed)
        return torch.cat([b[1] for b in iterate_batches(x, y, 8, gen)]).tolist()

    assert sorted(order(0)) == list(range(50))
    assert order(0) == order(0)
    assert order(0) != order(1) and order(0) != list(range(50))


def test_iterate_batches_validates() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        list(iterate_batches(torch.zeros(3), torch.zeros(3), 0))
    with pytest.raises(ValueError, match="labels"):
        list(iterate_batches(torch.zeros(3), torch.zeros(2), 2))


# --- IDX discovery and loading ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sub"),
    [
        ("mnist", "."),
        ("mnist", "MNIST/raw"),
        ("mnist", "mnist"),
        ("fashion-mnist", "FashionMNIST/raw"),
        ("fashion-mnist", "fashion-mnist"),
    ],
)
def test_find_idx_files_layouts(tmp_path: Path, name: str, sub: str) -> None:
    folder = write_idx_set(tmp_path / sub, gz=True)
    files = find_idx_files(name, tmp_path)
    assert files.train_images == folder / "train-images-idx3-ubyte.gz"
    assert all(p.parent == folder for p in files)


def test_find_idx_files_prefers_plain(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    write_idx_set(raw, gz=True)
    write_idx_set(raw, gz=False)
    assert find_idx_files("mnist", tmp_path).test_labels == raw / "t10k-labels-idx1-ubyte"


def test_find_idx_files_missing_lists_paths(tmp_path: Path) -> None:
    write_idx_set(tmp_path / "mnist")  # the wrong data set
    with pytest.raises(DataError) as info:
        find_idx_files("fashion-mnist", tmp_path)
    message = str(info.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert str(tmp_path / "fashion-mnist") in message
    assert "data.download: true" in message


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_dataset(tmp_path: Path, gz: bool) -> None:
    write_idx_set(tmp_path / "FashionMNIST" / "raw", gz=gz)
    train, test = load_idx_dataset("fashion-mnist", tmp_path)
    assert train.images.shape == (N_TRAIN, 4, 4) and test.images.shape == (N_TEST, 4, 4)
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert float(train.images.min()) >= 0.0 and float(train.images.max()) == 1.0
    assert train.name == "fashion-mnist" and train.num_classes == 10
    np.testing.assert_array_equal(image_ids(test), np.arange(N_TEST) + 1000)


def test_load_idx_dataset_count_mismatch(tmp_path: Path) -> None:
    write_idx_set(tmp_path, n_test_labels=N_TEST - 1)
    with pytest.raises(DataError, match="count mismatch.*t10k-images-idx3-ubyte"):
        load_idx_dataset("mnist", tmp_path)


def test_env_var_root_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_idx_set(tmp_path / "mnist")
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    train, _ = load_idx_dataset("mnist")
    assert len(train) == N_TRAIN


def test_no_root_no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    with pytest.raises(DataError, match=DATA_ENV_VAR):
        load_idx_dataset("mnist")


def test_download_without_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(DataError, match="torchvision"):
        load_idx_dataset("mnist", tmp_path, download=True)


# --- load_dataset -------------------------------------------------------------


def test_load_dataset_val_from_training_data(tmp_path: Path) -> None:
    write_idx_set(tmp_path)
    splits = load_dataset("mnist", tmp_path, val_fraction=0.2, seed=5)
    train_ids, val_ids, test_ids = (image_ids(s) for s in (splits.train, splits.val, splits.test))
    assert len(val_ids) == 40 and len(train_ids) == 160 and len(test_ids) == N_TEST
    assert set(val_ids).isdisjoint(train_ids)
    assert set(val_ids) | set(train_ids) == set(range(N_TRAIN))
    assert np.bincount(splits.val.labels.numpy()).tolist() == [4] * 10


def test_load_dataset_caps(tmp_path: Path) -> None:
    write_idx_set(tmp_path)
    a = load_dataset("mnist", tmp_path, train_samples=30, test_samples=20, seed=1)
    b = load_dataset("mnist", tmp_path, train_samples=30, test_samples=20, seed=2)
    assert len(a.train) == 30 and len(a.test) == 20 and len(a.val) == 20
    assert np.bincount(a.train.labels.numpy()).tolist() == [3] * 10
    assert set(image_ids(a.train)) <= set(range(N_TRAIN)) - set(image_ids(a.val))
    np.testing.assert_array_equal(image_ids(a.test), image_ids(b.test))  # fixed test subset
    assert not np.array_equal(image_ids(a.train), image_ids(b.train))


def test_load_dataset_digits() -> None:
    splits = load_dataset("digits", seed=0)
    assert splits.train.images.shape[1:] == (8, 8)
    assert len(splits.train) + len(splits.val) + len(splits.test) == 1797
    assert len(splits.test) == 359 and len(splits.val) == 144
    assert float(splits.train.images.min()) == 0.0 and float(splits.train.images.max()) == 1.0
    assert set(splits.test.labels.tolist()) == set(range(10))


def test_digits_splits_seeded() -> None:
    a, b, c = (load_dataset("digits", seed=s) for s in (0, 0, 1))
    torch.testing.assert_close(a.val.images, b.val.images)
    torch.testing.assert_close(a.train.labels, b.train.labels)
    torch.testing.assert_close(a.test.images, c.test.images)  # test set never moves
    assert not torch.equal(a.val.images, c.val.images)


def test_digits_test_fixed_and_disjoint() -> None:
    train, test = load_digits()
    assert len(train) == 1438 and len(test) == 359
    flat_train = {tuple(x) for x in train.images.flatten(1).tolist()}
    overlap = sum(tuple(x) in flat_train for x in test.images.flatten(1).tolist())
    assert overlap < 5  # only exact duplicate images in the raw data may coincide


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "cifar"}, "digits, mnist, fashion-mnist"),
        ({"name": "digits", "val_fraction": 0.6}, "val_fraction"),
        ({"name": "digits", "val_fraction": -0.1}, "val_fraction"),
        ({"name": "digits", "train_samples": 0}, "train_samples"),
        ({"name": "digits", "test_samples": -5}, "test_samples"),
        ({"name": "digits", "train_samples": 2.5}, "train_samples"),
        ({"name": "digits", "seed": -1}, "seed"),
    ],
)
def test_load_dataset_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(DataError, match=match):
        load_dataset(**kwargs)


# --- real data (skipped when absent) ------------------------------------------


def real_data_root() -> Path:
    env = os.environ.get(DATA_ENV_VAR)
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_real_idx_data(name: str) -> None:
    root = real_data_root()
    if not (root / name).is_dir():
        pytest.skip(f"no {name} under {root}")
    train, test = load_idx_dataset(name, root)
    assert len(train) == 60000 and len(test) == 10000
    assert train.image_shape == (28, 28)
    for part in (train, test):
        assert int(part.labels.min()) == 0 and int(part.labels.max()) == 9
        assert float(part.images.min()) == 0.0 and float(part.images.max()) == 1.0
