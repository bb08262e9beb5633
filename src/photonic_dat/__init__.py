"""photonic-dat: dual adaptive training (DAT) of photonic and other analog neural networks.

``import photonic_dat as pdat`` gives what a user needs:

* configurations and presets: :class:`RunConfig`, :func:`load_config`, :func:`list_presets`;
* data: :func:`load_dataset`, :class:`DatasetSplits`, :func:`load_splits`;
* the twin: :class:`PNN` (encoder, blocks, readout; blocks are any ``nn.Module``, real or
  complex, each measurable or not), the library's :class:`Block` base, :func:`observe`,
  SEPNs for any state (:func:`default_sepns`, :class:`SEPNOptions`);
* the device: :class:`PhysicalSystem` (subclass it: ``_measure`` returns a
  :class:`Measurement`), :class:`Capabilities`, :func:`register_system`;
* the methods: :class:`InSilico`, :class:`PAT`, :class:`DAT` (:class:`DATSettings`,
  :class:`OptimSettings`);
* training: :class:`Experiment`, :func:`build_experiment`, :func:`fit` (validation
  selection, test measured once), :func:`train` (a run directory), :func:`evaluate`;
* the exceptions: :class:`PhotonicDATError` and its two families, :class:`UsageError`
  (:class:`ConfigError`, :class:`DataError`, :class:`CapabilityError`) and
  :class:`RuntimeFailure` (:class:`DeviceError`).

Names load on first use (PEP 562), so importing the package is cheap and has no side
effects. ``examples/custom_analog_system.py`` trains a user-defined analog system with DAT.
The library logs through :mod:`logging` (``logging.getLogger("photonic_dat")``).
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

try:
    __version__ = _version("photonic-dat")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: public name -> module that defines it
_EXPORTS = {
    # configuration
    "RunConfig": "photonic_dat.config.schema",
    "load_config": "photonic_dat.config.loading",
    "dump_config": "photonic_dat.config.loading",
    "list_presets": "photonic_dat.config.presets",
    # data
    "load_dataset": "photonic_dat.data.datasets",
    "DatasetSplits": "photonic_dat.data.datasets",
    "ImageDataset": "photonic_dat.data.datasets",
    "load_splits": "photonic_dat.config.factory",
    # twin
    "PNN": "photonic_dat.models.pnn",
    "Trace": "photonic_dat.models.pnn",
    "Block": "photonic_dat.models.blocks",
    "observe": "photonic_dat.models.blocks",
    "default_sepns": "photonic_dat.models.state_sepn",
    "sepn_for_state": "photonic_dat.models.state_sepn",
    "SEPNOptions": "photonic_dat.models.state_sepn",
    # devices
    "PhysicalSystem": "photonic_dat.systems.base",
    "Capabilities": "photonic_dat.systems.base",
    "Measurement": "photonic_dat.systems.base",
    "QueryCounter": "photonic_dat.systems.base",
    "register_system": "photonic_dat.config.factory",
    # methods
    "Method": "photonic_dat.methods.base",
    "OptimSettings": "photonic_dat.methods.base",
    "InSilico": "photonic_dat.methods.insilico",
    "PAT": "photonic_dat.methods.pat",
    "DAT": "photonic_dat.methods.dat",
    "DATSettings": "photonic_dat.methods.dat",
    "measured_forward": "photonic_dat.methods.fusion",
    "fuse_state": "photonic_dat.methods.fusion",
    # training
    "Experiment": "photonic_dat.config.factory",
    "build_experiment": "photonic_dat.config.factory",
    "fit": "photonic_dat.training.loop",
    "FitResult": "photonic_dat.training.loop",
    "train": ("photonic_dat.training.run", "train_run"),
    "evaluate": ("photonic_dat.training.run", "evaluate_run"),
    # exceptions
    "PhotonicDATError": "photonic_dat.exceptions",
    "UsageError": "photonic_dat.exceptions",
    "ConfigError": "photonic_dat.exceptions",
    "DataError": "photonic_dat.exceptions",
    "CapabilityError": "photonic_dat.exceptions",
    "RuntimeFailure": "photonic_dat.exceptions",
    "DeviceError": "photonic_dat.exceptions",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'photonic_dat' has no attribute {name!r}")
    module_name, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from photonic_dat.config.factory import (
        Experiment,
        build_experiment,
        load_splits,
        register_system,
    )
    from photonic_dat.config.loading import dump_config, load_config
    from photonic_dat.config.presets import list_presets
    from photonic_dat.config.schema import RunConfig
    from photonic_dat.data.datasets import DatasetSplits, ImageDataset, load_dataset
    from photonic_dat.exceptions import (
        CapabilityError,
        ConfigError,
        DataError,
        DeviceError,
        PhotonicDATError,
        RuntimeFailure,
        UsageError,
    )
    from photonic_dat.methods.base import Method, OptimSettings
    from photonic_dat.methods.dat import DAT, DATSettings
    from photonic_dat.methods.fusion import fuse_state, measured_forward
    from photonic_dat.methods.insilico import InSilico
    from photonic_dat.methods.pat import PAT
    from photonic_dat.models.blocks import Block, observe
    from photonic_dat.models.pnn import PNN, Trace
    from photonic_dat.models.state_sepn import SEPNOptions, default_sepns, sepn_for_state
    from photonic_dat.systems.base import Capabilities, Measurement, PhysicalSystem, QueryCounter
    from photonic_dat.training.loop import FitResult, fit
    from photonic_dat.training.run import evaluate_run as evaluate
    from photonic_dat.training.run import train_run as train
