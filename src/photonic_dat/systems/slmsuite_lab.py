"""A simulated lab for the Fourier-plane PNN: slmsuite's SimulatedSLM and SimulatedCamera
with hidden, seeded errors (optional extra ``photonic-dat[slm]``).

This stands in for a table-top setup: a phase-only LCoS SLM lit by a Gaussian beam, a lens,
and a camera in the back focal plane. The errors of :class:`~photonic_dat.errors.slm_lab.
SLMLabErrorSpec` are drawn once per device (:func:`draw_lab_errors`, saved with the run like
any realisation) and applied through slmsuite's own simulation hooks: the SLM's
``source`` (beam amplitude and wavefront aberration) and ``gamma_sim`` (nonlinear phase
response of the grey levels), the camera's affine placement (offset, rotation,
magnification), per-pixel efficiency (vignetting), gain, noise (black level and read noise),
bit depth and saturation. Only the trainer's side (the twin) is ours; the light is slmsuite's.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.errors.slm_lab import SLMLabErrorSpec
from photonic_dat.exceptions import UsageError
from photonic_dat.systems.slm_camera import SLMCameraSystem

__all__ = [
    "LabDesign",
    "SimulatedLab",
    "SimulatedLabSystem",
    "build_simulated_lab",
    "draw_lab_errors",
    "import_slmsuite",
]

INSTALL_HINT = "system.kind=slmsuite needs slmsuite: pip install 'photonic-dat[slm]'"


class LabDesign(BaseModel):
    """The nominal (known) hardware of the simulated lab, SI units (``system.slmsuite.*``).

    ``slm_pitch`` and ``slm_bitdepth`` of the SLM; ``wavelength`` of the laser;
    ``focal_length`` of the Fourier lens; ``camera_pitch``, ``camera_resolution`` (width =
    height, pixels of the window of interest) and ``camera_bitdepth`` of the camera;
    ``camera_gain``: nominal counts per second for unit far-field power. The defaults put
    about two camera pixels on each twin pixel (8 um SLM pixels, 532 nm, f = 10 mm, 5.5 um
    camera pixels, twin grid padded twice).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    wavelength: float = Field(532e-9, gt=0, lt=1e-5)
    slm_pitch: float = Field(8e-6, gt=0, lt=1e-3)
    slm_bitdepth: int = Field(8, ge=1, le=16)
    focal_length: float = Field(0.01, gt=0, le=10)
    camera_pitch: float = Field(5.5e-6, gt=0, lt=1e-3)
    camera_resolution: int = Field(64, ge=8, le=4096)
    camera_bitdepth: int = Field(10, ge=4, le=16)
    camera_gain: float = Field(1e6, gt=0)


def import_slmsuite() -> tuple[Any, Any]:
    """``(SimulatedSLM, SimulatedCamera)``; a :class:`UsageError` naming the extra if absent.

    slmsuite logs every device it creates to stdout at INFO; the simulated lab sets its
    console level to ERROR (``slmsuite.configure_logging``) so that training output stays
    readable. A real lab's devices are not touched.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "cupy is not installed; using numpy"
            import slmsuite
            from slmsuite.hardware.cameras.simulated import SimulatedCamera
            from slmsuite.hardware.slms.simulated import SimulatedSLM
    except ImportError as exc:
        raise UsageError(f"{INSTALL_HINT} ({exc})") from None
    slmsuite.configure_logging(logging.ERROR)
    return SimulatedSLM, SimulatedCamera


def _aberration_modes(n: int) -> np.ndarray:
    """Defocus, astigmatism (2), coma (2) and spherical on the ``n x n`` region (unit radius
    at the corner), each scaled to unit rms over the region. Shape (6, n, n)."""
    coords = (np.arange(n) - (n - 1) / 2) / ((n - 1) / 2 * math.sqrt(2))
    y, x = np.meshgrid(coords, coords, indexing="ij")
    r2, theta = x**2 + y**2, np.arctan2(y, x)
    r = np.sqrt(r2)
    modes = np.stack(
        [
            2 * r2 - 1,
            r2 * np.cos(2 * theta),
            r2 * np.sin(2 * theta),
            (3 * r2 - 2) * r * np.cos(theta),
            (3 * r2 - 2) * r * np.sin(theta),
            6 * r2**2 - 6 * r2 + 1,
        ]
    )
    modes = modes - modes.mean(axis=(1, 2), keepdims=True)
    return modes / np.sqrt((modes**2).mean(axis=(1, 2), keepdims=True))


def draw_lab_errors(
    spec: SLMLabErrorSpec,
    design: LabDesign,
    neurons: int,
    beam_waist: float | None,
    seed: int,
    num_blocks: int = 1,
) -> ErrorRealisation:
    """Draw one lab: the hidden tensors of block 0 (the SLM + camera), none for others.

    ``beam_waist`` is the nominal 1/e^2 radius in SLM pixels (``None``: uniform beam; its
    waist error then does not apply)."""
    g = torch.Generator().manual_seed(int(seed))

    def normal(*shape: int) -> Tensor:
        return torch.randn(shape, generator=g, dtype=torch.float64)

    modes = torch.from_numpy(_aberration_modes(neurons))
    weights = normal(len(modes)) * spec.aberration_rms / math.sqrt(len(modes))
    aberration = 2 * math.pi * torch.einsum("m,mij->ij", weights, modes)
    centre = normal(2) * spec.beam_offset_std * neurons
    coords = torch.arange(neurons, dtype=torch.float64) - (neurons - 1) / 2
    y, x = (coords[:, None] - centre[0]), (coords[None, :] - centre[1])
    if beam_waist is None:
        beam = torch.ones(neurons, neurons, dtype=torch.float64)
    else:
        waist = beam_waist * (1 + spec.beam_waist_std * float(normal(1)))
        beam = torch.exp(-(x.square() + y.square()) / waist**2)
    levels = 2**design.slm_bitdepth
    stroke = 1 + spec.phase_range_std * float(normal(1))
    exponent = 1 + spec.phase_gamma_std * float(normal(1))
    gamma = stroke * (torch.arange(levels, dtype=torch.float64) / levels) ** exponent
    m = design.camera_resolution
    cam = (torch.arange(m, dtype=torch.float64) - (m - 1) / 2) / ((m - 1) / 2)
    vig_centre = normal(2) * 0.1
    r2 = (cam[:, None] - vig_centre[0]).square() + (cam[None, :] - vig_centre[1]).square()
    vignetting = (1 - spec.vignetting * r2 / 2).clamp_min(0.0)
    block = {
        "aberration": aberration.float(),
        "beam": beam.float(),
        "gamma": gamma.float(),
        "camera_offset": (normal(2) * spec.camera_offset_std).float(),
        "camera_rotation": (normal(1) * spec.camera_rotation_std).float(),
        "camera_magnification": (1 + normal(1) * spec.magnification_std).float(),
        "vignetting": vignetting.float(),
        "camera_gain": (1 + normal(1) * spec.gain_std).clamp_min(0.05).float(),
        "black_level": torch.tensor([spec.black_level], dtype=torch.float32),
        "read_noise": torch.tensor([spec.read_noise], dtype=torch.float32),
    }
    meta = {"family": "fourier", "spec": spec.model_dump(), "design": design.model_dump()}
    blocks = [block] + [{} for _ in range(num_blocks - 1)]
    return ErrorRealisation(blocks=blocks, meta={"seed": int(seed), **meta})


@dataclass
class SimulatedLab:
    """slmsuite devices of one simulated lab, its beam shutter and the generator of the
    camera's read noise."""

    slm: Any
    camera: Any
    shutter: Callable[[bool], None]
    noise: np.random.Generator


def build_simulated_lab(
    design: LabDesign, realisation: ErrorRealisation, neurons: int, noise_seed: int
) -> SimulatedLab:
    """slmsuite ``SimulatedSLM`` (``neurons x neurons`` pixels) and ``SimulatedCamera`` with
    the realisation's hidden errors; read noise from its own seeded generator."""
    simulated_slm, simulated_camera = import_slmsuite()
    e = {k: v.numpy().astype(np.float64) for k, v in realisation.block(0).items()}
    wav_um = design.wavelength * 1e6
    slm = simulated_slm(
        (neurons, neurons),
        pitch_um=(design.slm_pitch * 1e6, design.slm_pitch * 1e6),
        bitdepth=design.slm_bitdepth,
        wav_um=wav_um,
        source={"amplitude_sim": e["beam"], "phase_sim": e["aberration"]},
        gamma_sim=e["gamma"],
    )
    rng = np.random.default_rng(noise_seed)
    black, read = float(e["black_level"][0]), float(e["read_noise"][0])
    m = design.camera_resolution
    camera = simulated_camera(
        slm,
        resolution=(m, m),
        pitch_um=(design.camera_pitch * 1e6, design.camera_pitch * 1e6),
        bitdepth=design.camera_bitdepth,
        gain=design.camera_gain * float(e["camera_gain"][0]),
        noise={"read": lambda ones: black + rng.normal(0.0, read, ones.shape)},
    )
    offset = (m / 2 + e["camera_offset"][1], m / 2 + e["camera_offset"][0])
    affine, shift = camera.build_affine(
        design.focal_length * float(e["camera_magnification"][0]) * 1e3,
        units="mm",
        theta=float(e["camera_rotation"][0]),
        offset=offset,
    )
    camera.set_affine(affine, shift)
    camera._aperture = e["vignetting"]  # slmsuite's per-pixel efficiency hook (vignetting)
    beam = e["beam"]

    def shutter(closed: bool) -> None:
        slm.source["amplitude_sim"] = np.zeros_like(beam) if closed else beam

    return SimulatedLab(slm, camera, shutter, rng)


class SimulatedLabSystem(SLMCameraSystem):
    """The SLM + camera adapter on a simulated lab; a run also stores the lab's hidden
    realisation (for the simulator's record: trainers never read it)."""

    def __init__(
        self,
        *args: Any,
        realisation: ErrorRealisation,
        noise: np.random.Generator,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._realisation = realisation
        self._noise = noise

    def checkpoint_state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors, meta = super().checkpoint_state()
        meta["read_noise_state"] = self._noise.bit_generator.state
        return tensors, meta

    def restore_checkpoint_state(self, tensors, meta) -> None:
        super().restore_checkpoint_state(tensors, meta)
        self._noise.bit_generator.state = meta["read_noise_state"]

    def save_device(self, directory) -> None:
        super().save_device(directory)
        self._realisation.save(directory)
