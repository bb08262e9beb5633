"""Image classification data sets: containers, loaders and batching."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import numpy as np
import torch

from photonic_dat.data.idx import DataError, read_idx_images, read_idx_labels
from photonic_dat.data.splits import cap_indices, train_val_split

__all__ = [
    "DATASET_NAMES",
    "DATA_ENV_VAR",
    "IMAGE_SHAPES",
    "DataError",
    "DatasetSplits",
    "IdxFiles",
    "ImageDataset",
    "find_idx_files",
    "iterate_batches",
    "load_dataset",
    "load_digits",
    "load_idx_dataset",
]

DATA_ENV_VAR = "PHOTONIC_DAT_DATA"
DATASET_NAMES = ("digits", "mnist", "fashion-mnist")
#: (H, W) of one image of each data set (what a measurement server accepts)
IMAGE_SHAPES = {"digits": (8, 8), "mnist": (28, 28), "fashion-mnist": (28, 28)}
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0
TEST_CAP_SEED = 0  # fixed: every training seed is evaluated on the same test subset

# name -> (torchvision class, torchvision folder, plain sub-folder)
_IDX_SOURCES = {
    "mnist": ("MNIST", "MNIST", "mnist"),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST", "fashion-mnist"),
}
_IDX_STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

IndexLike = Sequence[int] | np.ndarray | torch.Tensor


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Images (float32 in [0, 1], shape [n, H, W]) with int64 labels [n]."""

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    num_classes: int = 10

    def __post_init__(self) -> None:
        _check_images(self.images, self.name)
        _check_labels(self.labels, self.num_classes, self.name)
        if len(self.images) != len(self.labels):
            raise DataError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_shape(self) -> tuple[int, int]:
        """(H, W) of one image."""
        return (int(self.images.shape[1]), int(self.images.shape[2]))

    def subset(self, indices: IndexLike) -> ImageDataset:
        """A new data set holding the samples at ``indices`` (in that order)."""
        idx = _as_index(indices, self.name).to(self.images.device)
        return ImageDataset(
            self.images.index_select(0, idx),
            self.labels.index_select(0, idx.to(self.labels.device)),
            self.name,
            self.num_classes,
        )

    def to(self, device: torch.device | str) -> ImageDataset:
        """A copy of the data set on ``device``."""
        return ImageDataset(
            self.images.to(device), self.labels.to(device), self.name, self.num_classes
        )


@dataclass(frozen=True, eq=False)
class DatasetSplits:
    """Train, validation and test parts of one data set."""

    train: ImageDataset
    val: ImageDataset
    test: ImageDataset


class IdxFiles(NamedTuple):
    """Paths of the four MNIST-style IDX files of one data set."""

    train_images: Path
    train_labels: Path
    test_images: Path
    test_labels: Path


def _as_index(indices: IndexLike, name: str) -> torch.Tensor:
    """1-D int64 index tensor; bool masks and float arrays are rejected."""
    arr = indices if isinstance(indices, torch.Tensor) else torch.as_tensor(np.asarray(indices))
    if arr.numel() == 0:
        return torch.empty(0, dtype=torch.int64)
    if arr.ndim != 1 or arr.dtype == torch.bool or arr.is_floating_point():
        raise DataError(
            f"{name}: subset indices must be a 1-D integer sequence, "
            f"got dtype {arr.dtype} and shape {tuple(arr.shape)}"
        )
    return arr.to(torch.int64)


def _check_images(images: torch.Tensor, name: str) -> None:
    if not isinstance(images, torch.Tensor) or images.dtype != torch.float32:
        raise DataError(f"{name}: images must be a float32 tensor")
    if images.ndim != 3:
        raise DataError(f"{name}: images must have shape [n, H, W], got {tuple(images.shape)}")
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise DataError(f"{name}: image values must lie in [0, 1]")


def _check_labels(labels: torch.Tensor, num_classes: int, name: str) -> None:
    if num_classes < 1:
        raise DataError(f"{name}: num_classes must be positive, got {num_classes}")
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64:
        raise DataError(f"{name}: labels must be an int64 tensor")
    if labels.ndim != 1:
        raise DataError(f"{name}: labels must have shape [n], got {tuple(labels.shape)}")
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"{name}: labels must lie in [0, {num_classes})")


def _from_numpy(images: np.ndarray, labels: np.ndarray, scale: float, name: str) -> ImageDataset:
    """Build a data set from raw arrays, dividing pixel values by ``scale``."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).div_(scale)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    return ImageDataset(x, y, name)


def load_digits() -> tuple[ImageDataset, ImageDataset]:
    """scikit-learn's 8x8 digits (1797 images) as fixed (train, test) parts.

    The test part is the last 20 % of a permutation with a fixed seed, so it
    never changes.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images, labels = bunch.images, bunch.target
    perm = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(labels))
    n_test = round(DIGITS_TEST_FRACTION * len(labels))
    train_idx, test_idx = np.sort(perm[:-n_test]), np.sort(perm[-n_test:])
    train = _from_numpy(images[train_idx], labels[train_idx], 16.0, "digits")
    test = _from_numpy(images[test_idx], labels[test_idx], 16.0, "digits")
    return train, test


def _resolve_root(root: str | os.PathLike[str] | None, name: str) -> Path:
    if root is None:
        root = os.environ.get(DATA_ENV_VAR) or None
    if root is None:
        raise DataError(
            f"no data folder for {name!r}: pass root (config data.root) "
            f"or set the {DATA_ENV_VAR} environment variable"
        )
    return Path(root).expanduser()


def _candidate_dirs(name: str, root: Path) -> list[Path]:
    _, tv_folder, sub_folder = _IDX_SOURCES[name]
    return [root, root / tv_folder / "raw", root / sub_folder]


def _find_file(folder: Path, stem: str) -> Path | None:
    for path in (folder / stem, folder / f"{stem}.gz"):
        if path.is_file():
            return path
    return None


def find_idx_files(name: str, root: str | os.PathLike[str]) -> IdxFiles:
    """Locate the four IDX files of ``name`` under ``root``.

    Looks in ``root``, ``root/MNIST/raw`` (torchvision layout, ``FashionMNIST``
    for fashion-mnist) and ``root/<name>``; plain files win over ``.gz``.
    """
    name = _normalize_name(name)
    if name not in _IDX_SOURCES:
        raise DataError(f"{name!r} is not an IDX data set; choose from {sorted(_IDX_SOURCES)}")
    dirs = _candidate_dirs(name, Path(root).expanduser())
    for folder in dirs:
        found = [_find_file(folder, stem) for stem in _IDX_STEMS]
        if all(p is not None for p in found):
            return IdxFiles(*found)
    tried = "".join(f"\n  {d}" for d in dirs)
    raise DataError(
        f"{name} IDX files not found (need {', '.join(_IDX_STEMS)}, each plain or .gz, "
        f"in one folder); looked in:{tried}\n"
        "put the files in one of these folders, or set data.download: true (needs torchvision)"
    )


def _import_torchvision_datasets() -> ModuleType:
    try:
        return importlib.import_module("torchvision.datasets")
    except ImportError as exc:
        raise DataError(
            "data.download: true needs torchvision, which is not installed; "
            "install it (pip install torchvision) or place the IDX files in the data folder"
        ) from exc


def _download(name: str, root: Path) -> None:
    tv_datasets = _import_torchvision_datasets()
    cls = getattr(tv_datasets, _IDX_SOURCES[name][0])
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as exc:  # network and archive errors vary by version
        raise DataError(f"download of {name} into {root} failed: {exc}") from exc


def _read_split(images_path: Path, labels_path: Path, name: str) -> ImageDataset:
    images = read_idx_images(images_path)
    labels = read_idx_labels(labels_path)
    if len(images) != len(labels):
        raise DataError(
            f"count mismatch: {images_path} has {len(images)} images, "
            f"{labels_path} has {len(labels)} labels"
        )
    if labels.size and labels.max() >= 10:
        raise DataError(f"labels out of range [0, 10) in {labels_path}: max {labels.max()}")
    return _from_numpy(images, labels, 255.0, name)


def load_idx_dataset(
    name: str, root: str | os.PathLike[str] | None = None, download: bool = False
) -> tuple[ImageDataset, ImageDataset]:
    """Load MNIST or Fashion-MNIST IDX files as (train, test).

    ``root=None`` falls back to ``$PHOTONIC_DAT_DATA``. With ``download=True``
    missing files are fetched with torchvision (optional dependency).
    """
    name = _normalize_name(name)
    if name not in _IDX_SOURCES:
        raise DataError(f"{name!r} is not an IDX data set; choose from {sorted(_IDX_SOURCES)}")
    root_path = _resolve_root(root, name)
    try:
        files = find_idx_files(name, root_path)
    except DataError:
        if not download:
            raise
        _download(name, root_path)
        files = find_idx_files(name, root_path)
    train = _read_split(files.train_images, files.train_labels, name)
    test = _read_split(files.test_images, files.test_labels, name)
    return train, test


def _normalize_name(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    return "fashion-mnist" if key in ("fashionmnist", "fmnist") else key


def _check_cap(value: int | None, what: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise DataError(f"{what} must be a positive integer or None, got {value!r}")


def _check_args(
    val_fraction: float, seed: int, train_samples: int | None, test_samples: int | None
) -> None:
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, int | float):
        raise DataError(f"val_fraction must be a number in [0, 0.5], got {val_fraction!r}")
    if not 0.0 <= val_fraction <= 0.5:
        raise DataError(f"val_fraction must be in [0, 0.5], got {val_fraction}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    _check_cap(train_samples, "train_samples")
    _check_cap(test_samples, "test_samples")


def load_dataset(
    name: str,
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
    train_samples: int | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    test_samples: int | None = None,
) -> DatasetSplits:
    """Load ``name`` ("digits", "mnist", "fashion-mnist") as train/val/test.

    The validation part is carved from the training data (seeded, stratified by
    class); ``train_samples`` then caps the remaining training part (seeded,
    stratified). ``test_samples`` caps the test part with a fixed seed, so all
    training seeds share one test subset.
    """
    _check_args(val_fraction, seed, train_samples, test_samples)
    key = _normalize_name(name)
    if key == "digits":
        full_train, test = load_digits()
    elif key in _IDX_SOURCES:
        full_train, test = load_idx_dataset(key, root, download=download)
    else:
        raise DataError(f"unknown data set {name!r}; valid names: {', '.join(DATASET_NAMES)}")
    train_idx, val_idx = train_val_split(full_train.labels.numpy(), val_fraction, (seed, 0))
    train, val = full_train.subset(train_idx), full_train.subset(val_idx)
    train = train.subset(cap_indices(len(train), train_samples, (seed, 1), train.labels.numpy()))
    test = test.subset(cap_indices(len(test), test_samples, TEST_CAP_SEED, test.labels.numpy()))
    return DatasetSplits(train=train, val=val, test=test)


def iterate_batches(
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (images, labels) mini-batches; the last one may be smaller.

    Order is kept when ``generator`` is None, otherwise shuffled with it.
    """
    n = len(images)
    if len(labels) != n:
        raise ValueError(f"{n} images but {len(labels)} labels")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if generator is None:
        for start in range(0, n, batch_size):
            yield images[start : start + batch_size], labels[start : start + batch_size]
        return
    perm = torch.randperm(n, generator=generator, device=generator.device)
    for start in range(0, n, batch_size):
        idx = perm[start : start + batch_size]
        yield images[idx.to(images.device)], labels[idx.to(labels.device)]
