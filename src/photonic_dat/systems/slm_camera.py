"""A phase SLM and a camera in its Fourier plane as a physical system (any slmsuite hardware).

The adapter shows, for every input sample, the twin's SLM phase (mask plus the sample's input
phase) on any ``slmsuite.hardware.slms.slm.SLM``, captures a frame with any
``slmsuite.hardware.cameras.camera.Camera``, subtracts the dark frame, divides by the
exposure, and resamples the frame onto the twin's camera-plane grid through the calibrated
registration, so that the measurement and the twin's intensity are compared pixel for pixel
(the readout then integrates the detector regions). Nothing of slmsuite runs in the twin;
this module only drives the devices through slmsuite's public SLM / Camera interface.

Calibration (:meth:`SLMCameraSystem.calibrate`, run once before training and stored with the
run):

1. dark frame: the mean of a few frames with the beam blocked (``shutter``);
2. exposure: set so that the zero-order spot of a blank pattern (all the light in one
   diffraction-limited spot, the brightest a phase-only pattern can make) peaks at
   ``exposure_fraction`` of full scale, so trained patterns do not saturate;
3. registration: blazed gratings of known orders move a spot to known twin-grid positions;
   their centroids on the camera give an affine map twin grid -> camera pixels (least
   squares), which absorbs the camera's offset, rotation, magnification and any flip.

:func:`commission` compares twin and device on blank, grating and random patterns (residual
maps, and the repeat-measurement noise floor) so that a lab sees how far its twin is off
before it spends device time.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor

from photonic_dat.exceptions import DeviceError, MissingFileError, UsageError
from photonic_dat.io import atomic_path, atomic_write_text
from photonic_dat.systems.base import Capabilities, Measurement, PhysicalSystem

__all__ = [
    "CALIBRATION_PLANE",
    "CameraCalibration",
    "CameraCalibrationSettings",
    "SLMCameraSystem",
    "commission",
    "fit_affine",
    "spot_centroid",
]

logger = logging.getLogger(__name__)

#: plane name under which calibration and commissioning frames are counted
CALIBRATION_PLANE = "calibration"

#: twin display function: (parameters, input batch) -> SLM phases (B, n, n), rad
DisplayFn = Callable[[Mapping[str, Tensor], Tensor], Tensor]


@dataclass(frozen=True)
class CameraCalibrationSettings:
    """How to calibrate: ``dark_frames`` averaged for the dark frame; ``exposure_fraction``
    of full scale for the blank pattern's peak; grating ``orders`` (periods over the SLM
    region along x and y, each from ``-orders .. orders`` in steps of ``order_step``);
    ``spot_radius`` (camera pixels) of the centroid window; ``supersample`` points per twin
    pixel side when a frame is resampled onto the twin's grid."""

    dark_frames: int = 8
    exposure_fraction: float = 0.8
    orders: int = 4
    order_step: int = 2
    spot_radius: int = 4
    supersample: int = 1


@dataclass
class CameraCalibration:
    """The registration of camera to twin grid, the exposure and the dark frame.

    ``affine`` (2x2) and ``offset`` (2) map a twin-grid position (row, column; pixel centres
    at integer indices) to camera pixel coordinates: ``q = affine @ p + offset``.
    """

    affine: list[list[float]]
    offset: list[float]
    exposure_s: float
    fit_rms: float
    dark: Tensor = field(repr=False)
    points: int = 0

    def save(self, directory: str | Path) -> None:
        """``calibration.json`` and ``dark.safetensors`` in ``directory`` (atomic writes)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / "dark.safetensors") as tmp:
            save_file({"dark": self.dark.contiguous()}, str(tmp))
        info = {k: v for k, v in asdict(self).items() if k != "dark"}
        info["dark_mean"] = float(self.dark.mean())
        atomic_write_text(directory / "calibration.json", json.dumps(info, indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> CameraCalibration:
        directory = Path(directory)
        paths = (directory / "calibration.json", directory / "dark.safetensors")
        for p in paths:
            if not p.is_file():
                raise MissingFileError(f"calibration file missing: {p}")
        info = json.loads(paths[0].read_text())
        info.pop("dark_mean", None)
        return cls(**info, dark=load_file(str(paths[1]))["dark"])


def spot_centroid(frame: np.ndarray, radius: int) -> tuple[float, float]:
    """Intensity-weighted centroid (row, column) of the brightest spot of a dark-subtracted
    frame, over a ``(2 radius + 1)`` square around its maximum (values above 20 % of it)."""
    r0, c0 = np.unravel_index(int(np.argmax(frame)), frame.shape)
    rows = slice(max(r0 - radius, 0), r0 + radius + 1)
    cols = slice(max(c0 - radius, 0), c0 + radius + 1)
    patch = frame[rows, cols].astype(np.float64)
    patch = np.where(patch > 0.2 * patch.max(), patch, 0.0)
    total = patch.sum()
    if not total > 0:
        raise DeviceError("no light on the camera: cannot locate a calibration spot")
    rr, cc = np.mgrid[rows, cols]
    return float((rr * patch).sum() / total), float((cc * patch).sum() / total)


def fit_affine(twin: np.ndarray, camera: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Least-squares ``camera = A @ twin + t`` from point pairs (N, 2); returns A, t and the
    rms residual (camera pixels)."""
    if len(twin) < 3:
        raise UsageError("an affine registration needs at least 3 calibration spots")
    design = np.hstack([twin, np.ones((len(twin), 1))])
    solution, *_ = np.linalg.lstsq(design, camera, rcond=None)
    residual = camera - design @ solution
    rms = float(np.sqrt((residual**2).sum(axis=1).mean()))
    return solution[:2].T, solution[2], rms


class SLMCameraSystem(PhysicalSystem):
    """Fourier-plane PNN hardware: an slmsuite SLM and camera (see the module docstring).

    Args:
        slm: any slmsuite ``SLM`` (its phase region is the twin's ``n x n`` grid, centred).
        camera: any slmsuite ``Camera`` imaging the lens's back focal plane.
        display: the twin's SLM phase for parameters and an input batch (rad).
        neurons, pad, window: the twin's SLM region and camera-plane grid
            (:func:`photonic_dat.optics.fourier.fourier_plane`).
        shutter: ``shutter(True)`` blocks the beam, ``shutter(False)`` opens it (dark frames);
            without one the dark frame is zero.
        settings: :class:`CameraCalibrationSettings`.
        calibration: a stored :class:`CameraCalibration` to use instead of calibrating.
    """

    def __init__(
        self,
        slm: Any,
        camera: Any,
        display: DisplayFn,
        *,
        neurons: int,
        pad: int,
        window: int,
        shutter: Callable[[bool], None] | None = None,
        settings: CameraCalibrationSettings | None = None,
        calibration: CameraCalibration | None = None,
    ) -> None:
        super().__init__(Capabilities())
        self.slm, self.camera, self.display = slm, camera, display
        self.neurons, self.pad, self.window = int(neurons), int(pad), int(window)
        self.shutter = shutter
        self.settings = settings or CameraCalibrationSettings()
        self.calibration = calibration
        if calibration is not None:
            self.camera.set_exposure(calibration.exposure_s)
            self._build_sampler()

    # -- devices ------------------------------------------------------------------------------
    def _show(self, phase: np.ndarray) -> None:
        """Display an ``n x n`` phase (rad) centred on the SLM (zero phase elsewhere)."""
        shape = tuple(self.slm.shape)
        if phase.shape != shape:
            full = np.zeros(shape, dtype=np.float32)
            top, left = (shape[0] - phase.shape[0]) // 2, (shape[1] - phase.shape[1]) // 2
            full[top : top + phase.shape[0], left : left + phase.shape[1]] = phase
            phase = full
        self.slm.set_phase(np.mod(phase, 2 * np.pi), settle=True)

    def _frame(self) -> np.ndarray:
        image = self.camera.get_image()
        if image is None:
            raise DeviceError("the camera returned no frame")
        return np.asarray(image, dtype=np.float32)

    def _capture(self, phase: np.ndarray, plane: str = CALIBRATION_PLANE) -> np.ndarray:
        """Show ``phase``, capture one frame (raw counts), count it under ``plane``."""
        self._show(phase)
        self.queries.add_frames(plane, 1)
        return self._frame()

    @property
    def full_scale(self) -> float:
        return float(2**self.camera.bitdepth - 1)

    # -- calibration ------------------------------------------------------------------------
    def _grating(self, ky: int, kx: int) -> np.ndarray:
        n = self.neurons
        rows, cols = np.mgrid[0:n, 0:n]
        return (2 * np.pi * (kx * cols + ky * rows) / n).astype(np.float32)

    def _dark_frame(self) -> np.ndarray:
        s = self.settings
        if self.shutter is None:
            logger.warning("no shutter: the dark frame is taken as zero")
            return np.zeros(self.camera.shape, dtype=np.float32)
        self.shutter(True)
        try:
            frames = [self._frame() for _ in range(s.dark_frames)]
        finally:
            self.shutter(False)
        self.queries.add_frames(CALIBRATION_PLANE, s.dark_frames)
        return np.mean(frames, axis=0)

    def _set_exposure(self, dark: np.ndarray) -> float:
        target = self.settings.exposure_fraction * self.full_scale
        blank = np.zeros((self.neurons, self.neurons), dtype=np.float32)
        exposure = float(self.camera.exposure_s)
        for _ in range(12):
            raw = self._capture(blank)
            peak = float((raw - dark).max())
            if raw.max() >= self.full_scale:
                exposure /= 4
            elif peak <= 0:
                exposure *= 16
            else:
                ratio = target / peak
                if abs(ratio - 1) < 0.05:
                    break
                exposure *= ratio
            exposure = float(self.camera.set_exposure(exposure))
        else:
            raise DeviceError(f"could not set the exposure (last {exposure:.3g} s)")
        return exposure

    def calibrate(self) -> CameraCalibration:
        """Dark frame, exposure and registration (see the module docstring); sets and returns
        :attr:`calibration`. Frames are counted under the ``calibration`` plane."""
        s = self.settings
        dark = self._dark_frame()
        exposure = self._set_exposure(dark)
        centre = self.window // 2
        twin_points, camera_points = [], []
        for ky in range(-s.orders, s.orders + 1, s.order_step):
            for kx in range(-s.orders, s.orders + 1, s.order_step):
                frame = self._capture(self._grating(ky, kx)) - dark
                camera_points.append(spot_centroid(frame, s.spot_radius))
                twin_points.append((centre + self.pad * ky, centre + self.pad * kx))
        affine, offset, rms = fit_affine(np.array(twin_points), np.array(camera_points))
        self.calibration = CameraCalibration(
            affine=affine.tolist(),
            offset=offset.tolist(),
            exposure_s=exposure,
            fit_rms=rms,
            dark=torch.from_numpy(dark.astype(np.float32)),
            points=len(twin_points),
        )
        self._build_sampler()
        logger.info(
            "calibrated: exposure %.3g s, registration rms %.3f camera px over %d spots",
            exposure,
            rms,
            len(twin_points),
        )
        return self.calibration

    def _build_sampler(self) -> None:
        """Sampling grid (1, K s, K s, 2) of every twin sub-pixel on the camera frame."""
        cal = self._require_calibration()
        s, k = self.settings.supersample, self.window
        sub = (torch.arange(k * s, dtype=torch.float64) + 0.5) / s - 0.5
        rows, cols = torch.meshgrid(sub, sub, indexing="ij")
        affine = torch.tensor(cal.affine, dtype=torch.float64)
        offset = torch.tensor(cal.offset, dtype=torch.float64)
        q_row = affine[0, 0] * rows + affine[0, 1] * cols + offset[0]
        q_col = affine[1, 0] * rows + affine[1, 1] * cols + offset[1]
        height, width = cal.dark.shape
        grid = torch.stack(((q_col + 0.5) / width * 2 - 1, (q_row + 0.5) / height * 2 - 1), -1)
        self._grid = grid[None].to(torch.float32)
        self._area = float(abs(np.linalg.det(np.array(cal.affine))))

    def _require_calibration(self) -> CameraCalibration:
        if self.calibration is None:
            raise UsageError("the SLM + camera system is not calibrated; call calibrate() first")
        return self.calibration

    def to_twin_grid(self, frames: np.ndarray) -> Tensor:
        """Raw frames (B, H, W) -> dark-subtracted counts per second on the twin's grid
        (B, window, window), integrated over each twin pixel."""
        cal = self._require_calibration()
        signal = (torch.from_numpy(np.asarray(frames, dtype=np.float32)) - cal.dark) / float(
            cal.exposure_s
        )
        grid = self._grid.expand(signal.shape[0], -1, -1, -1)
        sampled = F.grid_sample(
            signal[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        s = self.settings.supersample
        return F.avg_pool2d(sampled, s)[:, 0] * self._area

    # -- the measurement interface ----------------------------------------------------------
    def checkpoint_state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Adds the calibration, so that a resumed run reads frames exactly as before."""
        tensors, meta = super().checkpoint_state()
        if self.calibration is not None:
            cal = self.calibration
            tensors["calibration/dark"] = cal.dark
            meta["calibration"] = {k: v for k, v in asdict(cal).items() if k != "dark"}
        return tensors, meta

    def restore_checkpoint_state(self, tensors: Mapping[str, Tensor], meta: Mapping) -> None:
        super().restore_checkpoint_state(tensors, meta)
        if "calibration" in meta:
            self.calibration = CameraCalibration(
                **meta["calibration"], dark=tensors["calibration/dark"].clone()
            )
            self.camera.set_exposure(self.calibration.exposure_s)
            self._build_sampler()

    def save_device(self, directory) -> None:
        """Store the calibration with the run (``calibration.json``, ``dark.safetensors``)."""
        if self.calibration is not None:
            self.calibration.save(directory)

    def _measure(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: tuple[int, ...]
    ) -> Measurement:
        self._require_calibration()
        with torch.no_grad():
            phases = self.display(params, fields).detach().cpu().numpy()
        frames = np.empty((len(phases), *self.camera.shape), dtype=np.float32)
        for i, phase in enumerate(phases):
            self._show(phase)
            frames[i] = self._frame()
        return Measurement(output=self.to_twin_grid(frames))


def _normalised(values: Tensor) -> Tensor:
    return values / values.sum().clamp_min(1e-30)


def commission(
    system: SLMCameraSystem,
    predict: Callable[[Tensor], Tensor],
    *,
    random_patterns: int = 4,
    repeats: int = 2,
    generator: torch.Generator | None = None,
    gratings: Sequence[tuple[int, int]] = ((0, 3), (3, 0), (2, -2)),
) -> dict[str, Any]:
    """Twin against device on blank, grating and random patterns.

    ``predict(phase)`` is the twin's intensity on its grid ``(window, window)`` for an SLM
    phase ``(n, n)``. Each pattern is measured ``repeats`` times. Returns, per pattern, the
    twin and device maps (each normalised to unit total), the residual map (device - twin),
    the relative residual ``|device - twin| / |twin|`` and the repeat noise floor
    ``|m1 - m2| / (sqrt(2) |m1|)``; plus their medians. Frames count under ``calibration``.
    """
    system._require_calibration()
    n = system.neurons
    patterns: list[tuple[str, Tensor]] = [("blank", torch.zeros(n, n))]
    for ky, kx in gratings:
        patterns.append((f"grating ({ky}, {kx})", torch.from_numpy(system._grating(ky, kx))))
    for i in range(random_patterns):
        phase = 2 * math.pi * torch.rand(n, n, generator=generator)
        patterns.append((f"random {i}", phase))
    rows = []
    for name, phase in patterns:
        frames = np.stack([system._capture(phase.numpy()) for _ in range(repeats)])
        measured = system.to_twin_grid(frames)
        device = _normalised(measured.mean(dim=0))
        with torch.no_grad():
            twin = _normalised(predict(phase))
        residual = device - twin
        floor = float("nan")
        if repeats > 1:
            a, b = _normalised(measured[0]), _normalised(measured[1])
            floor = float((a - b).norm() / (math.sqrt(2) * a.norm()))
        rows.append(
            {
                "pattern": name,
                "relative_residual": float(residual.norm() / twin.norm()),
                "noise_floor": floor,
                "twin": twin,
                "device": device,
                "residual": residual,
            }
        )
    summary = {
        "median_relative_residual": float(np.median([r["relative_residual"] for r in rows])),
        "median_noise_floor": float(np.median([r["noise_floor"] for r in rows])),
        "registration_rms_px": system.calibration.fit_rms,
        "exposure_s": system.calibration.exposure_s,
    }
    return {"patterns": rows, "summary": summary}
