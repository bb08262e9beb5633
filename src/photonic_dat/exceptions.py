"""The library's user-facing exceptions, under one base class.

Two families, so that a front end can tell them apart without knowing every subclass:

* :class:`UsageError` - the input is wrong (a configuration key, a file, a capability the
  system lacks). The command line prints the message and exits with status 2.
* :class:`RuntimeFailure` - the input was fine but the run failed (a device stopped
  answering, a frame could not be trusted, a file on disk is corrupt). Exit status 1.

Anything else that escapes is a bug in the library and is shown with its traceback.
"""

from __future__ import annotations

__all__ = [
    "CapabilityError",
    "ConfigError",
    "CorruptFileError",
    "DataError",
    "DeviceError",
    "MissingFileError",
    "PhotonicDATError",
    "RunInUseError",
    "RuntimeFailure",
    "UsageError",
]


class PhotonicDATError(Exception):
    """Base class of every error the library raises on purpose."""


class UsageError(PhotonicDATError, ValueError):
    """The caller asked for something invalid; the message says what to change."""


class RuntimeFailure(PhotonicDATError, RuntimeError):
    """A valid request failed while running (device, disk, numerical failure)."""


class ConfigError(UsageError):
    """A configuration problem, naming the key."""


class DataError(UsageError):
    """A data set cannot be found or read, or its contents are invalid."""


class CapabilityError(UsageError):
    """A physical system was asked for a measurement or access it does not offer."""


class MissingFileError(UsageError, FileNotFoundError):
    """A file or directory the caller named does not exist (a run directory without its
    config, a checkpoint, a calibration). Also a ``FileNotFoundError``, for callers that
    handle a missing file as such."""


class RunInUseError(UsageError):
    """Another process is writing the run directory (training, resuming or deploying into
    it); two writers would interleave their checkpoints and results."""


class DeviceError(RuntimeFailure):
    """A physical system failed to deliver a trustworthy measurement."""


class CorruptFileError(RuntimeFailure):
    """A file read back (checkpoint, model, device record, result, measurement log) is
    truncated, unreadable or does not match its recorded SHA-256 digest."""

    def __init__(self, path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path} is damaged: {reason}")

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.path, self.reason))
