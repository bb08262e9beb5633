"""A crash-safe log of every measurement, in HDF5 (read by h5py, MATLAB, HDFView).

A run with ``system.record: true`` appends every call of ``measure`` / ``measure_block`` to
``RUN_DIR/measurements/part-NNNN.h5``. Each process that writes opens a new part (a resumed
run, an ``evaluate``), and a part is also started when a measured plane appears that the open
part has no dataset for. One part holds::

    /                     attrs: format, version, part, resume_at, system, internal_taps, ...
    /calls/count          number of complete calls: rows past it are an unfinished record
    /calls/time           (N,) start, seconds since the epoch (UTC)
    /calls/latency        (N,) seconds the system took to answer
    /calls/block          (N,) -1 for the whole system, k for block k driven alone
    /calls/upload         (N,) row of /parameters displayed during the call
    /calls/first_input    (N,) row of /inputs of the call's first sample
    /calls/size           (N,) samples in the call
    /calls/input_digest   (N, 32) SHA-256 of the input fields sent (dtype, shape, bytes)
    /inputs/split         (M,) 0 train, 1 validation, 2 test, -1 not named
    /inputs/index         (M,) the sample's row in its split (-1 not named)
    /parameters/time      (U,) when the setting was first displayed
    /parameters/digest    (U, 32) SHA-256 of the setting
    /parameters/<name>    (U, ...) each optical parameter, one row per new setting
    /planes/<plane>/values (F, ...) measured intensities, one row per frame (plane "output",
                          "tap1" for the state after block 1, "block0" for block 0 alone)
    /planes/<plane>/call  (F,) the call each frame belongs to
    /planes/<plane>/exposure (F,) the detector's exposure for the frame, in the unit of the
                          root attribute ``exposure_unit`` (NaN: the system declares none)
    /charged/call, /charged/plane, /charged/frames   frames a system spent on itself during a
                          call beyond the ones returned (dark frames, a batch measured again
                          after saturation), per plane: a replay counts them too

The file is written in SWMR mode (HDF5's single-writer/multiple-reader), which keeps it
consistent on disk at every moment: a record's rows are written and flushed, then
``/calls/count`` is raised and flushed, so a process killed mid-record leaves a file whose
first ``count`` calls are complete. :class:`LogReader` reads such a file; opening the log for
writing again seals it first (its complete calls are copied into a closed file, which any
HDF5 reader opens without ``h5clear``).

A part's SHA-256 is added to ``digests.json`` in the log folder when it is closed (or
sealed); :class:`LogReader` checks every part that has one, so a part damaged after it was
written is reported naming it.

A resumed run continues from a checkpoint taken after ``resume_at`` complete calls; the calls
an interrupted attempt made after that are kept in their part (they did happen on the device)
but are no longer *live*: the first part written on resume records ``resume_at``, and the
live sequence drops everything after that point. Replay (:mod:`photonic_dat.systems.replay`)
serves live calls only, so a replayed resumed run sees what the uninterrupted one saw.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from photonic_dat.exceptions import ConfigError, CorruptFileError
from photonic_dat.integrity import DigestBook

logger = logging.getLogger(__name__)

FORMAT = "photonic-dat measurement log"
VERSION = 1
LIBVER = ("v110", "v110")  # the oldest format with SWMR: HDF5 >= 1.10 readers (MATLAB R2021b+)
SPLITS = {"train": 0, "val": 1, "test": 2}
_CHUNK_BYTES = 1 << 16


def h5py_module() -> Any:
    try:
        import h5py
    except ImportError:
        raise ConfigError(
            "system.record / system.kind=replay: the measurement log needs h5py "
            "(pip install 'photonic-dat[log]')"
        ) from None
    return h5py


def _digest_update(h: Any, name: str, t: Tensor) -> None:
    arr = np.ascontiguousarray(t.detach().cpu().numpy())
    h.update(f"{name}|{arr.dtype.str}|{arr.shape}".encode())
    h.update(arr.data)


def tensor_digest(t: Tensor) -> bytes:
    """SHA-256 of a tensor's dtype, shape and bytes."""
    h = hashlib.sha256()
    _digest_update(h, "", t)
    return h.digest()


def params_digest(params: Mapping[str, Tensor]) -> bytes:
    """SHA-256 of a parameter setting (names, dtypes, shapes, bytes)."""
    h = hashlib.sha256()
    for name in sorted(params):
        _digest_update(h, name, params[name])
    return h.digest()


def plane_key(plane: str) -> str:
    """HDF5 group name of a plane: ``tap:1`` -> ``tap1`` (portable to MATLAB)."""
    return plane.replace(":", "")


def plane_name(key: str) -> str:
    for prefix in ("tap", "block"):
        if key.startswith(prefix) and key[len(prefix) :].isdigit():
            return f"{prefix}:{key[len(prefix) :]}"
    return key


def part_path(directory: Path, index: int) -> Path:
    return directory / f"part-{index:04d}.h5"


def list_parts(directory: Path) -> list[Path]:
    return sorted(directory.glob("part-[0-9][0-9][0-9][0-9].h5"))


def _chunk_rows(row_shape: tuple[int, ...], itemsize: int) -> int:
    row_bytes = max(1, int(np.prod(row_shape, dtype=np.int64)) * itemsize)
    return max(1, min(1024, _CHUNK_BYTES // row_bytes))


def _extendable(group: Any, name: str, row_shape: tuple[int, ...], dtype: Any) -> Any:
    dtype = np.dtype(dtype)
    return group.create_dataset(
        name,
        shape=(0, *row_shape),
        maxshape=(None, *row_shape),
        chunks=(_chunk_rows(row_shape, dtype.itemsize), *row_shape),
        dtype=dtype,
    )


def _append(dataset: Any, rows: np.ndarray) -> None:
    n = dataset.shape[0]
    dataset.resize(n + len(rows), axis=0)
    dataset[n:] = rows


@dataclass(frozen=True)
class _Schema:
    planes: tuple[tuple[str, tuple[int, ...], str], ...]
    params: tuple[tuple[str, tuple[int, ...], str], ...]

    def covers(self, other: _Schema) -> bool:
        return set(other.planes) <= set(self.planes) and other.params == self.params


def _schema(planes: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray]) -> _Schema:
    return _Schema(
        tuple(sorted((k, v.shape[1:], v.dtype.str) for k, v in planes.items())),
        tuple(sorted((k, v.shape, v.dtype.str) for k, v in params.items())),
    )


class MeasurementLog:
    """Appends every measurement of a system to ``directory`` (see the module docstring).

    Args:
        directory: the log folder (``RUN_DIR/measurements``); parts already there are kept
            and a part a killed writer left open is sealed first.
        truncate_to: continue after this many live calls (the count a checkpoint recorded);
            the live calls after it are superseded. ``None`` appends after all of them.
        info: JSON-able description of the system stored with every part (kind, taps, ...).
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        truncate_to: int | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        self._h5py = h5py_module()
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for path in list_parts(self.directory):
            seal_part(path)
        self.info = dict(info or {})
        live = LogReader.count_live(self.directory)
        self._next_part = len(list_parts(self.directory))
        self._resume_at = -1
        if truncate_to is not None:
            if truncate_to > live:
                raise CorruptFileError(
                    self.directory,
                    f"a checkpoint counts {truncate_to} logged measurements, the log holds "
                    f"only {live}",
                )
            if truncate_to < live:
                self._resume_at = truncate_to
                self._open_part(None)  # mark the resume point even if nothing follows
                self._close_part()
            live = truncate_to
        self.records = live  #: live calls so far (what a checkpoint stores)
        self._file: Any = None
        self._schema: _Schema | None = None
        self._last_params: bytes | None = None

    # -- parts --------------------------------------------------------------------------------
    def _open_part(self, schema: _Schema | None) -> None:
        path = part_path(self.directory, self._next_part)
        self._next_part += 1
        f = self._h5py.File(path, "w", libver=LIBVER)
        f.attrs["format"] = FORMAT
        f.attrs["version"] = VERSION
        f.attrs["part"] = self._next_part - 1
        f.attrs["resume_at"] = self._resume_at
        f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for key, value in self.info.items():
            f.attrs[key] = value
        self._resume_at = -1
        calls = f.create_group("calls")
        calls.create_dataset("count", shape=(), dtype="i8", data=0)
        for name, dtype in (("time", "f8"), ("latency", "f8")):
            _extendable(calls, name, (), dtype)
        for name in ("block", "upload", "first_input", "size"):
            _extendable(calls, name, (), "i8")
        _extendable(calls, "input_digest", (32,), "u1")
        inputs = f.create_group("inputs")
        _extendable(inputs, "split", (), "i1")
        _extendable(inputs, "index", (), "i8")
        params = f.create_group("parameters")
        _extendable(params, "time", (), "f8")
        _extendable(params, "digest", (32,), "u1")
        charged = f.create_group("charged")
        _extendable(charged, "call", (), "i8")
        _extendable(charged, "plane", (), "S32")
        _extendable(charged, "frames", (), "i8")
        planes = f.create_group("planes")
        if schema is not None:
            for name, shape, dtype in schema.params:
                _extendable(params, name, shape, dtype)
            for key, shape, dtype in schema.planes:
                group = planes.create_group(key)
                _extendable(group, "values", shape, dtype)
                _extendable(group, "call", (), "i8")
                _extendable(group, "exposure", (), "f4")
        f.swmr_mode = True  # from here on the file stays consistent on disk
        self._file, self._schema, self._last_params = f, schema, None
        self._ds: dict[str, Any] = {}

        def keep(name: str, obj: Any) -> None:  # returning None lets the visit go on
            self._ds[name] = obj

        f.visititems(keep)
        self._calls = 0
        self._uploads = 0
        self._inputs = 0

    def _close_part(self) -> None:
        if self._file is not None:
            name = Path(self._file.filename).name
            self._file.close()
            DigestBook(self.directory).record(name)  # complete: from now on it is verified
        self._file = None

    def close(self) -> None:
        self._close_part()

    # -- records ------------------------------------------------------------------------------
    def record(
        self,
        *,
        params: Mapping[str, Tensor],
        fields: Tensor,
        planes: Mapping[str, Tensor],
        block: int | None,
        inputs: tuple[str, Tensor] | None,
        start: float,
        latency: float,
        exposure: Mapping[str, float | None],
        charged: Mapping[str, int] | None = None,
    ) -> None:
        """Append one call (see :class:`~photonic_dat.systems.base.MeasurementRecorder`)."""
        values = {plane_key(k): v.detach().cpu().numpy() for k, v in planes.items()}
        setting = {k: v.detach().cpu().numpy() for k, v in params.items()}
        schema = _schema(values, setting)
        if self._file is None or self._schema is None or not self._schema.covers(schema):
            self._close_part()
            merged = schema
            if self._schema is not None and self._schema.params == schema.params:
                merged = _Schema(
                    tuple(sorted(set(schema.planes) | set(self._schema.planes))), schema.params
                )
            self._open_part(merged)
        ds = self._ds
        call, size = self._calls, int(fields.shape[0])
        digest = params_digest(params)
        if digest != self._last_params:
            _append(ds["parameters/time"], np.array([start]))
            _append(ds["parameters/digest"], np.frombuffer(digest, np.uint8)[None])
            for name, value in setting.items():
                _append(ds[f"parameters/{name}"], value[None])
            self._last_params = digest
            self._uploads += 1
        split, index = -1, np.full(size, -1, np.int64)
        if inputs is not None and len(inputs[1]) == size:
            split = SPLITS.get(inputs[0], -1)
            index = inputs[1].detach().cpu().numpy().astype(np.int64)
        _append(ds["inputs/split"], np.full(size, split, np.int8))
        _append(ds["inputs/index"], index)
        for plane in planes:
            key = plane_key(plane)
            value = values[key]
            level = exposure.get(plane)
            _append(ds[f"planes/{key}/values"], value)
            _append(ds[f"planes/{key}/call"], np.full(len(value), call, np.int64))
            _append(
                ds[f"planes/{key}/exposure"],
                np.full(len(value), np.nan if level is None else level, np.float32),
            )
        if charged:
            names = sorted(charged)
            _append(ds["charged/call"], np.full(len(names), call, np.int64))
            _append(ds["charged/plane"], np.array([n.encode() for n in names], "S32"))
            _append(ds["charged/frames"], np.array([charged[n] for n in names], np.int64))
        row = {
            "time": start,
            "latency": latency,
            "block": -1 if block is None else block,
            "upload": self._uploads - 1,
            "first_input": self._inputs,
            "size": size,
        }
        for name, value in row.items():
            _append(ds[f"calls/{name}"], np.array([value]))
        _append(ds["calls/input_digest"], np.frombuffer(tensor_digest(fields), np.uint8)[None])
        self._file.flush()  # the record's rows are on disk ...
        ds["calls/count"][()] = call + 1
        ds["calls/count"].flush()  # ... before the count that makes them part of the log
        self._calls += 1
        self._inputs += size
        self.records += 1


# -- reading --------------------------------------------------------------------------------
def _open_for_reading(h5py: Any, path: Path) -> Any:
    try:
        return h5py.File(path, "r")
    except OSError:
        # a part whose writer was killed is flagged as open for writing; SWMR readers may
        # still open it, and see its last consistent state
        try:
            return h5py.File(path, "r", swmr=True)
        except OSError as exc:
            raise CorruptFileError(path, f"not a readable HDF5 file ({exc})") from None


def _committed(f: Any) -> dict[str, Any]:
    """Row counts of one part's complete records."""
    calls = f["calls"]
    count = int(calls["count"][()])
    if count:
        inputs = int(calls["first_input"][count - 1] + calls["size"][count - 1])
        uploads = int(np.max(calls["upload"][:count])) + 1
    else:
        inputs = uploads = 0
    frames = {}
    for key, group in f["planes"].items():
        call = group["call"][: group["call"].shape[0]]
        frames[key] = int(np.searchsorted(call, count, side="left"))
    charged = f["charged/call"][: f["charged/call"].shape[0]]
    charges = int(np.searchsorted(charged, count, side="left"))
    return {
        "count": count,
        "inputs": inputs,
        "uploads": uploads,
        "frames": frames,
        "charged": charges,
    }


def seal_part(path: Path) -> None:
    """Make a part any HDF5 reader opens: a part left open by a killed writer has its complete
    records copied into a closed file that replaces it; one that cannot be read at all (killed
    before its first record) is renamed ``*.damaged``."""
    h5py = h5py_module()
    try:
        h5py.File(path, "r").close()
        return
    except OSError:
        pass
    try:
        src = h5py.File(path, "r", swmr=True)
    except OSError as exc:
        logger.warning("measurement log part %s unreadable (%s); set aside as .damaged", path, exc)
        os.replace(path, path.with_name(path.name + ".damaged"))
        return
    tmp = path.with_name(f".{path.name}.sealing")
    with src, h5py.File(tmp, "w", libver=LIBVER) as dst:
        n = _committed(src)
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        dst.attrs["sealed"] = "copied from a part whose writer stopped without closing it"
        limits = {
            "calls": n["count"],
            "inputs": n["inputs"],
            "parameters": n["uploads"],
            "charged": n["charged"],
        }
        for group_name, rows in limits.items():
            group = dst.create_group(group_name)
            for name, data in src[group_name].items():
                if name == "count":
                    group.create_dataset("count", shape=(), dtype="i8", data=n["count"])
                else:
                    copy = _extendable(group, name, data.shape[1:], data.dtype)
                    _append(copy, data[:rows])
        planes = dst.create_group("planes")
        for key, group in src["planes"].items():
            out = planes.create_group(key)
            for name in group:
                copy = _extendable(out, name, group[name].shape[1:], group[name].dtype)
                _append(copy, group[name][: n["frames"][key]])
    os.replace(tmp, path)
    DigestBook(path.parent).record(path.name)
    logger.info("measurement log part %s sealed at %d complete calls", path, n["count"])


@dataclass(frozen=True)
class LoggedCall:
    """One live call of a log, as read back."""

    block: int | None
    planes: dict[str, np.ndarray]
    params_digest: bytes
    input_digest: bytes
    split: int
    index: np.ndarray
    time: float
    latency: float
    exposure: dict[str, float]
    charged: dict[str, int]


class LogReader:
    """The live calls of a measurement log, in order (parts opened read-only).

    Args:
        directory: ``RUN_DIR/measurements`` or a run directory holding one.
    """

    def __init__(self, directory: str | Path) -> None:
        directory = Path(directory)
        if (directory / "measurements").is_dir():
            directory = directory / "measurements"
        h5py = h5py_module()
        paths = list_parts(directory)
        if not paths:
            raise FileNotFoundError(f"no measurement log in {directory} (part-0000.h5 missing)")
        self.directory = directory
        book = DigestBook(directory)  # closed parts carry a digest; an open one cannot yet
        self.files = [_open_for_reading(h5py, book.verify(p.name)) for p in paths]
        self.live: list[tuple[int, int]] = []
        self._calls: list[dict[str, np.ndarray]] = []
        self._frames: list[dict[str, np.ndarray]] = []
        self._charged: list[dict[str, np.ndarray]] = []
        for p, f in enumerate(self.files):
            if f.attrs.get("format") != FORMAT:
                raise CorruptFileError(paths[p], "not a photonic-dat measurement log")
            try:
                n = _committed(f)
                calls = {k: v[: n["count"]] for k, v in f["calls"].items() if k != "count"}
                calls["params_digest"] = f["parameters/digest"][: n["uploads"]]
                frames = {k: g["call"][: n["frames"][k]] for k, g in f["planes"].items()}
                charged = {k: f["charged"][k][: n["charged"]] for k in ("call", "plane", "frames")}
            except (KeyError, OSError, ValueError) as exc:
                raise CorruptFileError(paths[p], f"unreadable measurement log ({exc})") from None
            self._calls.append(calls)
            self._frames.append(frames)
            self._charged.append(charged)
            resume_at = int(f.attrs.get("resume_at", -1))
            if resume_at >= 0:
                del self.live[resume_at:]
            self.live.extend((p, r) for r in range(n["count"]))

    @staticmethod
    def count_live(directory: Path) -> int:
        if not list_parts(directory):
            return 0
        reader = LogReader(directory)
        try:
            return len(reader)
        finally:
            reader.close()

    @property
    def info(self) -> dict[str, Any]:
        """The attributes of the first part (system kind, taps, block access, ...)."""
        return dict(self.files[0].attrs)

    def __len__(self) -> int:
        return len(self.live)

    def close(self) -> None:
        for f in self.files:
            f.close()

    def _rows(self, p: int, key: str, r: int) -> tuple[int, int]:
        frames = self._frames[p][key]
        return int(np.searchsorted(frames, r, "left")), int(np.searchsorted(frames, r, "right"))

    def key(self, i: int) -> tuple[int | None, bytes, bytes, tuple[str, ...]]:
        """Block, parameter digest, input digest and measured planes of live call ``i``:
        what identifies a measurement request."""
        p, r = self.live[i]
        calls = self._calls[p]
        block = int(calls["block"][r])
        planes = []
        for key in self._frames[p]:
            lo, hi = self._rows(p, key, r)
            if hi > lo:
                planes.append(plane_name(key))
        return (
            None if block < 0 else block,
            bytes(calls["params_digest"][int(calls["upload"][r])]),
            bytes(calls["input_digest"][r]),
            tuple(sorted(planes)),
        )

    def call(self, i: int) -> LoggedCall:
        p, r = self.live[i]
        f = self.files[p]
        calls = self._calls[p]
        planes, exposure = {}, {}
        for key in self._frames[p]:
            lo, hi = self._rows(p, key, r)
            if hi > lo:
                planes[plane_name(key)] = f["planes"][key]["values"][lo:hi]
                exposure[plane_name(key)] = float(f["planes"][key]["exposure"][lo])
        first, size = int(calls["first_input"][r]), int(calls["size"][r])
        block = int(calls["block"][r])
        split = f["inputs/split"][first : first + size]
        return LoggedCall(
            block=None if block < 0 else block,
            planes=planes,
            params_digest=bytes(calls["params_digest"][int(calls["upload"][r])]),
            input_digest=bytes(calls["input_digest"][r]),
            split=int(split[0]) if size else -1,
            index=f["inputs/index"][first : first + size],
            time=float(calls["time"][r]),
            latency=float(calls["latency"][r]),
            exposure=exposure,
            charged=self.charged(i),
        )

    def charged(self, i: int) -> dict[str, int]:
        """Frames the system spent on itself during live call ``i``, per plane."""
        p, r = self.live[i]
        table = self._charged[p]
        lo = int(np.searchsorted(table["call"], r, "left"))
        hi = int(np.searchsorted(table["call"], r, "right"))
        return {bytes(table["plane"][j]).decode(): int(table["frames"][j]) for j in range(lo, hi)}

    def parameters(self, i: int) -> dict[str, np.ndarray]:
        """The optical parameters displayed during live call ``i``."""
        p, r = self.live[i]
        upload = int(self._calls[p]["upload"][r])
        return {
            name: data[upload]
            for name, data in self.files[p]["parameters"].items()
            if name not in ("time", "digest")
        }


def as_tensor(values: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(values))
