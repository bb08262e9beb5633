"""What ``photonic-dat serve`` serves: the simulated device of a configuration, or a lab's own
:class:`PhysicalSystem` named by import path."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from photonic_dat.config.factory import build_pnn, build_system
from photonic_dat.config.schema import RunConfig
from photonic_dat.data.datasets import IMAGE_SHAPES
from photonic_dat.exceptions import ConfigError
from photonic_dat.models.pnn import PNN
from photonic_dat.systems.base import PhysicalSystem
from photonic_dat.systems.faults import FaultPlan
from photonic_dat.systems.keys import load_key
from photonic_dat.systems.server import DEFAULT_ADDRESS, MeasurementServer, ServedDevice

__all__ = ["build_server", "import_device", "served_device"]

DeviceBuilder = Callable[[RunConfig, PNN], PhysicalSystem]


def import_device(spec: str) -> DeviceBuilder:
    """``"package.module:Name"`` -> the class or function that builds a device from
    ``(config, pnn)``."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"--device expects MODULE:NAME (e.g. my_lab.devices:MySLM), got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--device {spec}: cannot import {module_name}: {exc}") from None
    builder = getattr(module, attr, None)
    if not callable(builder):
        raise ConfigError(f"--device {spec}: {module_name} has no class or function {attr!r}")
    return builder


def served_device(config: RunConfig, device: str | None = None) -> ServedDevice:
    """The device that ``config`` describes (its simulated device, whatever ``system.kind``
    says), or the one ``device`` (``MODULE:NAME``) builds from ``(config, pnn)``."""
    pnn = build_pnn(config)
    if device is None:
        local = config.model_copy(deep=True)
        local.system.kind = "simulated"

        def make() -> PhysicalSystem:
            return build_system(local, pnn)
    else:
        builder = import_device(device)

        def make() -> PhysicalSystem:
            system = builder(config, pnn)
            if not isinstance(system, PhysicalSystem):
                raise ConfigError(
                    f"--device {device} built a {type(system).__name__}, not a PhysicalSystem"
                )
            return system

    return ServedDevice(make=make, twin=pnn, image_shape=IMAGE_SHAPES[config.data.name])


def build_server(
    config: RunConfig,
    *,
    device: str | None = None,
    address: str = DEFAULT_ADDRESS,
    key_file: str | None = None,
    faults: str | None = None,
    lease_s: float = 60.0,
) -> MeasurementServer:
    """A measurement server for ``config`` (not yet bound)."""
    plan = FaultPlan.parse(faults)
    if plan and device is not None:
        raise ConfigError("--faults is for the simulated device (tests), not a lab's device")
    return MeasurementServer(
        served_device(config, device),
        key=load_key(key_file),
        address=address,
        lease_s=lease_s,
        faults=plan,
    )
