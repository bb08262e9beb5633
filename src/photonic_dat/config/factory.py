"""Builds data, twin, physical system and method from a :class:`RunConfig`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from photonic_dat.calibration.fit import CalibrationSettings
from photonic_dat.config.mpnn_family import build_mpnn, mesh_error_spec
from photonic_dat.config.schema import RunConfig
from photonic_dat.data import DatasetSplits, load_dataset
from photonic_dat.data.datasets import IMAGE_SHAPES
from photonic_dat.errors.realisation import ErrorRealisation, draw_realisation
from photonic_dat.exceptions import ConfigError
from photonic_dat.methods.base import Method, OptimSettings
from photonic_dat.methods.dat import DAT, DATSettings
from photonic_dat.methods.insilico import Calibrated, InSilico
from photonic_dat.methods.pat import PAT
from photonic_dat.models.parametric_device import ParametricDevice
from photonic_dat.models.pnn import PNN
from photonic_dat.models.sepn import count_parameters
from photonic_dat.models.state_sepn import SEPNOptions, default_sepns
from photonic_dat.seeding import stream_generator, stream_seed
from photonic_dat.systems.base import PhysicalSystem
from photonic_dat.systems.detector import DetectorSpec
from photonic_dat.systems.drift import DriftingSystem, DriftSpec
from photonic_dat.systems.simulated import DeviceModel, SimulatedSystem
from photonic_dat.systems.timing import DeviceTimings
from photonic_dat.systems.wrappers import PacedSystem

METHODS = ("insilico", "calibration", "pat", "dat")


def build_pnn(config: RunConfig) -> PNN:
    """The PNN architecture of the configured family (ideal parameters, seeded init)."""
    if config.model == "dpnn":
        from photonic_dat.config.dpnn_family import build_dpnn

        return build_dpnn(config)
    if config.model == "crossbar":
        from photonic_dat.config.crossbar_family import build_crossbar

        return build_crossbar(config)
    if config.model == "fourier":
        from photonic_dat.config.fourier_family import build_fourier

        return build_fourier(config)
    return build_mpnn(config)


def error_spec(config: RunConfig) -> object:
    if config.model == "dpnn":
        from photonic_dat.config.dpnn_family import dpnn_error_spec

        return dpnn_error_spec(config)
    if config.model == "crossbar":
        return config.errors.crossbar
    return mesh_error_spec(config)


def detector_spec(config: RunConfig) -> DetectorSpec:
    return DetectorSpec(**config.system.detector.model_dump())


def device_model(config: RunConfig, pnn: PNN, realisation: ErrorRealisation) -> DeviceModel:
    """The physics of the simulated device: the diffractive family's fine-grid device, or the
    twin's blocks with their parametric errors (MZI meshes)."""
    if config.model == "dpnn":
        from photonic_dat.models.diffractive_device import FineGridDevice

        return FineGridDevice(pnn, realisation, config.system.samples_per_pixel)
    view = None
    if config.system.output_ports == "readout":
        view = pnn.readout.measured_ports
    return ParametricDevice(pnn, realisation, output_view=view)


def draw_errors(config: RunConfig, pnn: PNN) -> ErrorRealisation:
    spec = error_spec(config)
    meta = {"family": config.model, "spec": config.errors.model_dump(mode="json")}
    return draw_realisation(list(pnn.blocks), spec, stream_seed(config.errors.seed, "device"), meta)


SystemBuilder = Callable[[RunConfig, PNN, "ErrorRealisation | None"], PhysicalSystem]

#: ``system.kind`` -> the function that builds that physical system
SYSTEM_BUILDERS: dict[str, SystemBuilder] = {}


def register_system(kind: str) -> Callable[[SystemBuilder], SystemBuilder]:
    """Register a builder for ``system.kind == kind`` (adapters import lazily inside it)."""

    def decorate(builder: SystemBuilder) -> SystemBuilder:
        SYSTEM_BUILDERS[kind] = builder
        return builder

    return decorate


def build_system(
    config: RunConfig, pnn: PNN, realisation: ErrorRealisation | None = None
) -> PhysicalSystem:
    """The physical system that ``config.system.kind`` names, for the architecture ``pnn``."""
    kind = config.system.kind
    if kind not in SYSTEM_BUILDERS:
        raise ConfigError(
            f"system.kind: no physical system {kind!r}; known: {sorted(SYSTEM_BUILDERS)}"
        )
    return SYSTEM_BUILDERS[kind](config, pnn, realisation)


@register_system("simulated")
def build_simulated_system(
    config: RunConfig, pnn: PNN, realisation: ErrorRealisation | None = None
) -> PhysicalSystem:
    """The family's simulated device: hidden errors drawn from ``errors.seed``."""
    if config.model == "fourier":
        raise ConfigError(
            "model fourier has no simulated device of its own; use system.kind=slmsuite "
            "(slmsuite's simulated SLM and camera) or your own PhysicalSystem"
        )
    realisation = realisation if realisation is not None else draw_errors(config, pnn)
    if config.model == "crossbar":
        from photonic_dat.systems.crossbar import SimulatedCrossbar

        crossbar = SimulatedCrossbar(
            pnn,
            realisation,
            config.errors.crossbar,
            seed=stream_seed(config.errors.seed, "detector-noise"),
            internal_taps=config.system.internal_taps,
            block_access=config.system.block_access,
        )
        return with_device_behaviour(config, crossbar)
    system = SimulatedSystem(
        device_model(config, pnn, realisation),
        realisation,
        detector_spec(config),
        noise_seed=stream_seed(config.errors.seed, "detector-noise"),
        device_seed=stream_seed(config.errors.seed, "device"),
        internal_taps=config.system.internal_taps,
        block_access=config.system.block_access,
    )
    return with_device_behaviour(config, system)


def with_device_behaviour(config: RunConfig, system: PhysicalSystem) -> PhysicalSystem:
    """The simulated device's declared timings, its drift (``system.drift``) and, with
    ``system.emulate_timings``, pacing that makes it as slow as the timings say."""
    s = config.system
    system.timings = DeviceTimings(**s.timings.model_dump())
    drift = DriftSpec(**s.drift.model_dump())
    if drift.active:
        system = DriftingSystem(system, drift, stream_seed(config.errors.seed, "drift"))
    if s.emulate_timings:
        system = PacedSystem(system, system.timings)
    return system


@register_system("remote")
def build_remote_system(
    config: RunConfig, pnn: PNN, realisation: ErrorRealisation | None = None
) -> PhysicalSystem:
    """A client of the measurement server at ``system.address`` (``photonic-dat serve``)."""
    from photonic_dat.systems.keys import load_key
    from photonic_dat.systems.remote import RemoteSystem

    s = config.system
    assert s.address is not None  # checked by the schema
    return RemoteSystem(
        s.address,
        pnn,
        key=load_key(s.key_file),
        image_shape=IMAGE_SHAPES[config.data.name],
        timeout_s=s.timeout_s,
        retries=s.retries,
        sentinels=s.sentinels,
        sentinel_tolerance=s.sentinel_tolerance,
        frame_retries=s.frame_retries,
        overlap=s.overlap,
        seed=stream_seed(config.seed, "frame-checks"),
        internal_taps=s.internal_taps,
        block_access=s.block_access,
    )


@register_system("replay")
def build_replay_system(
    config: RunConfig, pnn: PNN, realisation: ErrorRealisation | None = None
) -> PhysicalSystem:
    """Serves the measurement log of ``system.replay_from`` back (no device needed)."""
    from photonic_dat.systems.replay import ReplaySystem

    try:
        return ReplaySystem(config.system.replay_from)
    except FileNotFoundError as exc:
        raise ConfigError(f"system.replay_from: {exc}") from None


@register_system("aihwkit")
def build_aihwkit_system(
    config: RunConfig, pnn: PNN, realisation: ErrorRealisation | None = None
) -> PhysicalSystem:
    """IBM aihwkit's PCM crossbar for ``model: crossbar`` (programming noise, drift and read
    noise drawn from the ``device`` stream of ``errors.seed``)."""
    if config.model != "crossbar":
        raise ConfigError(f"system.kind=aihwkit needs model=crossbar, not {config.model!r}")
    from photonic_dat.systems.aihwkit_crossbar import AihwkitCrossbar

    return AihwkitCrossbar(
        pnn,
        config.errors.crossbar,
        seed=stream_seed(config.errors.seed, "device"),
        internal_taps=config.system.internal_taps,
        block_access=config.system.block_access,
    )


@register_system("slmsuite")
def build_slmsuite_system(
    config: RunConfig, pnn: PNN, realisation: ErrorRealisation | None = None
) -> PhysicalSystem:
    """slmsuite's simulated SLM and camera with hidden lab errors (``errors.slm``), driven
    through the SLM + camera adapter and calibrated (or given ``system.slmsuite.
    calibration``) before use."""
    if config.model != "fourier":
        raise ConfigError(f"system.kind=slmsuite needs model=fourier, not {config.model!r}")
    from photonic_dat.config.fourier_family import nominal_waist_pixels
    from photonic_dat.systems.slm_camera import CameraCalibration, CameraCalibrationSettings
    from photonic_dat.systems.slmsuite_lab import (
        LabDesign,
        SimulatedLabSystem,
        build_simulated_lab,
        draw_lab_errors,
    )

    f, lab_cfg = config.fourier, config.system.slmsuite
    design = LabDesign(**{k: getattr(lab_cfg, k) for k in LabDesign.model_fields})
    if realisation is None:
        realisation = draw_lab_errors(
            config.errors.slm,
            design,
            f.neurons,
            nominal_waist_pixels(config),
            stream_seed(config.errors.seed, "device"),
            len(pnn.blocks),
        )
    lab = build_simulated_lab(
        design, realisation, f.neurons, stream_seed(config.errors.seed, "detector-noise")
    )
    settings = CameraCalibrationSettings(
        dark_frames=lab_cfg.dark_frames,
        exposure_fraction=lab_cfg.exposure_fraction,
        orders=lab_cfg.orders,
        order_step=lab_cfg.order_step,
        spot_radius=lab_cfg.spot_radius,
        supersample=lab_cfg.supersample,
    )
    stored = CameraCalibration.load(lab_cfg.calibration) if lab_cfg.calibration else None
    system = SimulatedLabSystem(
        lab.slm,
        lab.camera,
        fourier_display,
        neurons=f.neurons,
        pad=f.pad,
        window=f.window,
        shutter=lab.shutter,
        settings=settings,
        calibration=stored,
        realisation=realisation,
        noise=lab.noise,
    )
    if stored is None:
        system.calibrate()
    return system


def fourier_display(params, inputs: torch.Tensor) -> torch.Tensor:
    """The Fourier-plane PNN's SLM phase: the mask (``blocks.0.phase``) plus each input."""
    return inputs + params["blocks.0.phase"]


def sepn_options(config: RunConfig) -> SEPNOptions:
    """The ``dat.sepn.*`` keys as :class:`~photonic_dat.models.state_sepn.SEPNOptions`."""
    s = config.dat.sepn
    return SEPNOptions(
        kind=s.kind,
        features=tuple(s.features),
        kernel_size=s.kernel_size,
        convs_per_level=s.convs_per_level,
        channels=s.channels,
        num_blocks=s.num_blocks,
        working_size=s.working_size,
        pixel_map=s.pixel_map,
        hidden=s.hidden,
        depth=s.depth,
    )


def build_sepns(
    config: RunConfig, pnn: PNN, example: torch.Tensor | None = None
) -> dict[int, torch.nn.Module]:
    """One SEPN per measurable block, shaped for its state (``example``: an encoded batch;
    without it the blocks' ``field_shape`` is used), initialised from the ``sepn-init``
    stream."""
    torch.manual_seed(stream_seed(config.seed, "sepn-init"))
    return default_sepns(pnn, example, sepn_options(config))


def calibration_settings(
    config: RunConfig, system: PhysicalSystem, train_samples: int
) -> CalibrationSettings | None:
    """The calibration the configured method runs first (``None``: none)."""
    c = config.calibration
    if config.method != "calibration" and not c.enabled:
        return None
    if config.model not in ("mpnn", "dpnn"):
        raise ConfigError(
            f"calibration (fitting the twin's explicit error parameters) is implemented for the "
            f"mpnn and dpnn families, not for model {config.model!r}"
        )
    if config.method == "insilico":
        raise ConfigError(
            "calibration.enabled with method=insilico: use method=calibration (calibrate, then "
            "train in silico on the calibrated twin)"
        )
    planes = 1 + len(system.capabilities.internal_taps)
    frames = c.frames or config.train.epochs * train_samples * planes
    return CalibrationSettings(frames, c.settings, c.batch_size, c.steps_per_batch, c.lr)


def resolve_device(name: str) -> torch.device:
    """``train.device`` as a torch device: ``auto`` is the first CUDA GPU if torch sees one,
    else the CPU. Asking for a GPU that is not there is a configuration error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"train.device={name}: torch sees no CUDA GPU here (torch {torch.__version__}, "
                f"CUDA build: {torch.version.cuda or 'no'}); use train.device=cpu or auto"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"train.device={name}: only {torch.cuda.device_count()} CUDA device(s) here"
            )
    return device


def build_method(
    config: RunConfig,
    pnn: PNN,
    system: PhysicalSystem,
    train_samples: int = 0,
    example: torch.Tensor | None = None,
) -> Method:
    """The configured training method around ``pnn`` (``example``: an encoded batch for sizing
    SEPNs; the SEPNs are built on the CPU, then moved to the PNN's device)."""
    t = config.train
    optim = OptimSettings(t.lr, t.lr_step, t.lr_gamma)
    calibration = calibration_settings(config, system, train_samples)
    if config.method == "insilico":
        return InSilico(pnn, system, optim)
    if config.method == "calibration":
        return Calibrated(pnn, system, optim, calibration)
    if config.method == "pat":
        return PAT(pnn, system, optim, calibration)
    d = config.dat
    settings = DATSettings(
        d.internal_states,
        d.sepn_weight,
        d.sepn_start_epoch,
        d.sepn_gradient,
        d.output_similarity,
        d.refit_steps,
    )
    sepn_optim = OptimSettings(d.lr, t.lr_step, t.lr_gamma)
    device = next(iter(pnn.parameters())).device
    sepns = {k: s.to(device) for k, s in build_sepns(config, pnn, example).items()}
    return DAT(pnn, system, optim, sepns, settings, sepn_optim, calibration)


def sepn_parameter_count(method: Method) -> int:
    return count_parameters(method.sepns) if isinstance(method, DAT) else 0


def load_splits(config: RunConfig) -> DatasetSplits:
    """The configured data set's train / validation / test splits (seeded, capped)."""
    d = config.data
    splits = load_dataset(
        d.name,
        root=d.root,
        download=d.download,
        train_samples=d.train_samples,
        val_fraction=d.val_fraction,
        seed=stream_seed(config.seed, "data-split"),
        test_samples=d.test_samples,
    )
    if d.val_samples is not None and d.val_samples < len(splits.val):
        g = stream_generator(config.seed, "val-subset")
        idx = torch.randperm(len(splits.val), generator=g)[: d.val_samples]
        splits = DatasetSplits(splits.train, splits.val.subset(idx.sort().values), splits.test)
    return splits


@dataclass
class Experiment:
    """What :func:`~photonic_dat.training.loop.fit` trains: a config (schedule, seeds), the
    data splits, the physical system and the method (holding the twin)."""

    config: RunConfig
    splits: DatasetSplits
    system: PhysicalSystem
    method: Method


def build_training(
    config: RunConfig,
    realisation: ErrorRealisation | None = None,
    train_samples: int = 0,
    example: torch.Tensor | None = None,
) -> tuple[PhysicalSystem, Method]:
    """The physical system and the training method (with its twin) of ``config``
    (``realisation``: a saved device to rebuild; ``train_samples``: the size of the training
    split, which sets a calibration's default frame budget; ``example``: a few raw training
    images for sizing SEPNs).

    Everything random is drawn on the CPU (initial parameters, SEPN weights, the device's
    errors), then the twin, the SEPNs and a simulated device move to ``train.device``, so a
    seed gives the same model and device on every machine.
    """
    device = resolve_device(config.train.device)
    pnn = build_pnn(config)
    system = build_system(config, pnn, realisation)
    try:
        if device.type != "cpu" and not system.movable:
            # a system that computes elsewhere (hardware, a server) takes CPU tensors
            if config.train.device != "auto":
                raise ConfigError(
                    f"train.device={config.train.device}: system.kind={config.system.kind} "
                    "computes on the CPU; use train.device=cpu (or auto)"
                )
            device = torch.device("cpu")
        system = system.to(device)
        encoded = None
        if example is not None and len(example):
            with torch.no_grad():
                encoded = pnn.encoder(example)
        method = build_method(config, pnn.to(device), system, train_samples, encoded)
    except BaseException:
        system.close()  # give a remote device's lease back
        raise
    return system, method


def build_experiment(config: RunConfig, realisation: ErrorRealisation | None = None) -> Experiment:
    """Data, twin, physical system (``realisation``: a saved device to rebuild) and method
    (see :func:`build_training`). The data stay on the CPU; batches move to the twin's device
    when they are encoded."""
    splits = load_splits(config)
    system, method = build_training(config, realisation, len(splits.train), splits.train.images[:2])
    return Experiment(config, splits, system, method)
