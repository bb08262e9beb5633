"""Data sets (digits, MNIST, Fashion-MNIST), IDX reading, seeded splits and batching."""

from photonic_dat.data.datasets import (
    DATA_ENV_VAR,
    DATASET_NAMES,
    DatasetSplits,
    IdxFiles,
    ImageDataset,
    find_idx_files,
    iterate_batches,
    load_dataset,
    load_digits,
    load_idx_dataset,
)
from photonic_dat.data.idx import DataError, read_idx, read_idx_images, read_idx_labels
from photonic_dat.data.splits import cap_indices, stratified_sample, train_val_split

__all__ = [
    "DATASET_NAMES",
    "DATA_ENV_VAR",
    "DataError",
    "DatasetSplits",
    "IdxFiles",
    "ImageDataset",
    "cap_indices",
    "find_idx_files",
    "iterate_batches",
    "load_dataset",
    "load_digits",
    "load_idx_dataset",
    "read_idx",
    "read_idx_images",
    "read_idx_labels",
    "stratified_sample",
    "train_val_split",
]
