"""Blocks of the diffractive PNN (DPNN): phase masks in free space, encoder and readout.

Geometry: every plane (input, each layer, detector) is sampled on the same ``n x n`` grid, one
pixel per neuron, pitch ``pitch`` (m). Light travels ``input -> gap 0 -> layer 0 -> gap 1 ->
layer 1 -> ... -> layer L-1 -> output gap -> detector``. A :class:`DiffractiveLayer` is "gap
then mask"; :class:`FreeSpace` is the final gap. Each gap is propagated by
:func:`photonic_dat.optics.free_space.propagate` (``propagation="convolution"``: exact linear
convolution with the band-limited impulse response; ``"angular-spectrum"``: zero-padding by
``pad_factor``, band-limited transfer function, crop). Only the ``n x n`` aperture is kept:
light that leaves it is lost, as it is in the hardware.

With ``errors`` (one layer's tensors of a hidden :class:`~photonic_dat.errors.realisation.
ErrorRealisation`) a layer displays its phase through a non-ideal modulator and sits at a
misaligned position; see :meth:`DiffractiveLayer.transmission`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from photonic_dat.errors.specs import DiffractiveErrorSpec
from photonic_dat.models.blocks import Block, BlockErrors
from photonic_dat.models.readout import l2_normalise
from photonic_dat.optics.detectors import integrate_regions
from photonic_dat.optics.diffractive import (
    crosstalk_blur,
    embed_image,
    gaussian_illumination,
    modulator_response,
    move_mask_fourier,
    parametrised_phase,
    quantize_phase,
)
from photonic_dat.optics.free_space import propagate

PROPAGATIONS = ("convolution", "angular-spectrum")
NORMALISATIONS = ("l2", "total")

#: names of the per-layer error tensors (SI units)
ERROR_KEYS = (
    "dx",  # lateral shift along x (columns), m
    "dy",  # lateral shift along y (rows), m
    "rotation",  # in-plane rotation, rad
    "gap_error",  # axial error of the gap before this plane, m
    "gain",  # modulator gain (full-stroke factor)
    "gamma",  # modulator response exponent
    "levels",  # number of phase levels (integer)
    "fringing_sigma",  # pixel crosstalk blur std, m
    "fill_factor",  # active area fraction of a pixel (simulated device only)
    "pixel_phase",  # (n, n) per-pixel phase error, rad
    "illumination_waist",  # Gaussian illumination 1/e^2 radius, m (layer 0 only)
    "tilt_x",  # illumination tilt about y (ramp along x), rad (layer 0 only)
    "tilt_y",  # illumination tilt about x (ramp along y), rad (layer 0 only)
)


def _scalar(errors: BlockErrors, key: str) -> float | None:
    value = errors.get(key)
    return None if value is None else float(value)


def _value(errors: BlockErrors, key: str) -> float | Tensor | None:
    """An error as a float, or as the tensor itself when it carries a gradient (the
    calibration baseline fits error parameters through the twin)."""
    value = errors.get(key)
    if value is None:
        return None
    return value if value.requires_grad else float(value)


def _nonzero(value: float | Tensor | None) -> bool:
    return isinstance(value, Tensor) or bool(value)


class _Gap(Block):
    """Shared geometry of a block that starts with a free-space gap."""

    measurable = True

    def __init__(
        self,
        neurons: int,
        pitch: float,
        wavelength: float,
        distance: float,
        pad_factor: float = 2.0,
        propagation: str = "convolution",
    ) -> None:
        super().__init__()
        if neurons < 1:
            raise ValueError(f"neurons must be >= 1, got {neurons}")
        for name, value in (("pitch", pitch), ("wavelength", wavelength), ("distance", distance)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive length in m, got {value}")
        if pad_factor < 1:
            raise ValueError(f"pad_factor must be >= 1, got {pad_factor}")
        if propagation not in PROPAGATIONS:
            raise ValueError(f"propagation must be one of {PROPAGATIONS}, got {propagation!r}")
        self.propagation = propagation
        self.neurons = int(neurons)
        self.pitch = float(pitch)
        self.wavelength = float(wavelength)
        self.distance = float(distance)
        self.pad_factor = float(pad_factor)

    @property
    def field_shape(self) -> tuple[int, ...]:
        return (self.neurons, self.neurons)

    def gap_distance(self, errors: BlockErrors | None = None) -> float | Tensor:
        """The gap length in m: the ideal distance plus this device's axial error (a tensor
        when the error is being fitted)."""
        error = _value(errors, "gap_error") if errors else None
        return self.distance + (error if error is not None else 0.0)

    def propagate(self, field: Tensor, errors: BlockErrors | None = None) -> Tensor:
        """Propagate over the gap (the transfer function is cached per exact distance)."""
        return propagate(
            field,
            self.pitch,
            self.wavelength,
            self.gap_distance(errors),
            pad_factor=self.pad_factor,
            method=self.propagation,
        )

    def _draw_gap(self, spec: DiffractiveErrorSpec, generator: torch.Generator) -> dict:
        if spec.distance_std <= 0:
            return {}
        return {"gap_error": _normal((), spec.distance_std, generator)}

    def _geometry_repr(self) -> str:
        return (
            f"neurons={self.neurons}, pitch={self.pitch:.3g} m, wavelength={self.wavelength:.4g} "
            f"m, distance={self.distance:.4g} m, propagation={self.propagation}"
            + (f", pad_factor={self.pad_factor:g}" if self.propagation != "convolution" else "")
        )


def _normal(shape: tuple[int, ...], std: float, generator: torch.Generator) -> Tensor:
    """``N(0, std)`` draw in float64 (geometric errors of ~1e-6 m keep full precision)."""
    return torch.randn(shape, generator=generator, dtype=torch.float64) * std


class DiffractiveLayer(_Gap):
    """Free-space gap of ``distance`` m, then a trainable phase-only mask of ``n x n`` pixels.

    The trainable parameter ``raw`` ``(n, n)`` is mapped to the commanded phase in [0, 2pi)
    rad by :func:`~photonic_dat.optics.diffractive.parametrised_phase` (``wrap``: ``"sigmoid"`` or
    ``"mod"``). The intensity after the layer (= the intensity arriving at the mask) is
    measurable by a camera imaging the layer plane. ``illuminated`` marks the first layer,
    which also carries the illumination errors of the input beam.

    With ``errors`` the layer is the twin's *model* of a non-ideal layer, one sample per pixel
    (used by the calibration baseline, whose fitted errors are then part of the twin). The
    simulated device does not use it: it renders the pixelated mask on a finer grid
    (:class:`photonic_dat.models.diffractive_device.FineGridDevice`).
    """

    def __init__(
        self,
        neurons: int,
        pitch: float,
        wavelength: float,
        distance: float,
        *,
        pad_factor: float = 2.0,
        propagation: str = "convolution",
        illuminated: bool = False,
        wrap: str = "sigmoid",
        init_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(neurons, pitch, wavelength, distance, pad_factor, propagation)
        if wrap not in ("sigmoid", "mod"):
            raise ValueError(f"wrap must be 'sigmoid' or 'mod', got {wrap!r}")
        if init_std < 0:
            raise ValueError(f"init_std must be >= 0, got {init_std}")
        self.illuminated = bool(illuminated)
        self.wrap = wrap
        raw = torch.randn(self.neurons, self.neurons, generator=generator) * init_std
        self.raw = nn.Parameter(raw)

    # -- the mask ---------------------------------------------------------------------------
    def phase(self) -> Tensor:
        """The commanded (ideal) phase ``(n, n)`` in rad, in [0, 2pi)."""
        return parametrised_phase(self.raw, self.wrap)

    def modulated_phase(self, errors: BlockErrors | None = None) -> Tensor:
        """The phase each pixel's modulator produces, rad: the commanded phase quantised to
        ``levels`` (grey levels / thickness steps; straight-through gradient), then through
        the response ``2pi gain (phase / 2pi) ** gamma``."""
        phase = self.phase()
        if not errors:
            return phase
        levels = errors.get("levels")
        if levels is not None:
            phase = quantize_phase(phase, int(levels), straight_through=True)
        gain, gamma = errors.get("gain"), errors.get("gamma")
        if gain is not None or gamma is not None:
            like = {"dtype": phase.dtype, "device": phase.device}
            phase = modulator_response(
                phase,
                1.0 if gain is None else gain.to(**like),
                1.0 if gamma is None else gamma.to(**like),
            )
        return phase

    def displayed_phase(self, errors: BlockErrors | None = None) -> Tensor:
        """The phase of the mask in the twin's error model, rad, before any misalignment:
        :meth:`modulated_phase`, blurred by the pixel crosstalk (std ``fringing_sigma /
        pitch`` pixels, on the phase values), plus the per-pixel fabrication error map."""
        phase = self.modulated_phase(errors)
        if not errors:
            return phase
        sigma = _value(errors, "fringing_sigma")
        if _nonzero(sigma):
            phase = crosstalk_blur(phase, sigma / self.pitch)
        pixel = errors.get("pixel_phase")
        if pixel is not None:
            phase = phase + pixel.to(device=phase.device, dtype=phase.dtype)
        return phase

    def transmission(self, errors: BlockErrors | None = None) -> Tensor:
        """Complex transmission ``(n, n)`` of the mask on the twin's grid (unit modulus).

        A misaligned mask (``rotation``, then ``dx``, ``dy``) is moved as a whole by
        :func:`~photonic_dat.optics.diffractive.move_mask_fourier`: still phase-only, so it
        absorbs nothing, and differentiable in the misalignment.
        """
        phase = self.displayed_phase(errors)
        t = torch.polar(torch.ones_like(phase), phase)
        if not errors:
            return t
        rotation = _value(errors, "rotation")
        dx, dy = _value(errors, "dx"), _value(errors, "dy")
        if not (_nonzero(rotation) or _nonzero(dx) or _nonzero(dy)):
            return t
        return move_mask_fourier(
            t,
            0.0 if dx is None else dx / self.pitch,
            0.0 if dy is None else dy / self.pitch,
            0.0 if rotation is None else rotation,
        )

    def illumination(self, errors: BlockErrors, like: Tensor) -> Tensor | None:
        """The input beam's envelope ``(n, n)`` (Gaussian waist, tilt), or ``None`` if ideal."""
        waist = _scalar(errors, "illumination_waist")
        tilt_x = _scalar(errors, "tilt_x") or 0.0
        tilt_y = _scalar(errors, "tilt_y") or 0.0
        if waist is None and tilt_x == 0.0 and tilt_y == 0.0:
            return None
        dtype = like.dtype if like.is_complex() else torch.complex64
        return gaussian_illumination(
            self.field_shape,
            self.pitch,
            math.inf if waist is None else waist,
            tilt_x,
            tilt_y,
            wavelength=self.wavelength,
            dtype=dtype,
            device=like.device,
        )

    def forward(self, field: Tensor, errors: BlockErrors | None = None) -> Tensor:
        if errors and self.illuminated:
            envelope = self.illumination(errors, field)
            if envelope is not None:
                field = field * envelope
        field = self.propagate(field, errors)
        return field * self.transmission(errors)

    def probe_parameters(self, generator: torch.Generator) -> dict[str, Tensor]:
        """Raw parameters whose phases are uniform over the modulator's range."""
        u = torch.rand(self.raw.shape, generator=generator).clamp(0.01, 0.99)
        raw = torch.logit(u) if self.wrap == "sigmoid" else u * 2 * math.pi
        return {"raw": raw}

    def draw_errors(self, spec: object, generator: torch.Generator) -> dict[str, Tensor]:
        """Per-layer draws from a :class:`DiffractiveErrorSpec` (``{}`` for other specs).

        Scalars in float64: ``dx``, ``dy`` (m), ``rotation`` (rad), ``gap_error`` (m),
        ``gain``, ``gamma``; per pixel (float32, rad): ``pixel_phase``; fixed values copied
        from the spec: ``levels``, ``fringing_sigma`` (m); on the illuminated (first) layer:
        ``illumination_waist`` (m), ``tilt_x``, ``tilt_y`` (rad). Zero stds draw nothing.
        """
        if not isinstance(spec, DiffractiveErrorSpec):
            return {}
        out: dict[str, Tensor] = self._draw_gap(spec, generator)
        if spec.shift_std > 0:
            out["dx"] = _normal((), spec.shift_std, generator)
            out["dy"] = _normal((), spec.shift_std, generator)
        if spec.rotation_std > 0:
            out["rotation"] = _normal((), spec.rotation_std, generator)
        if spec.phase_gain_std > 0:
            out["gain"] = (1.0 + _normal((), spec.phase_gain_std, generator)).clamp_min(0.05)
        if spec.phase_gamma_std > 0:
            out["gamma"] = (1.0 + _normal((), spec.phase_gamma_std, generator)).clamp_min(0.1)
        if spec.pixel_phase_std > 0:
            shape = self.field_shape
            out["pixel_phase"] = torch.randn(shape, generator=generator) * spec.pixel_phase_std
        if spec.phase_levels is not None:
            out["levels"] = torch.tensor(int(spec.phase_levels), dtype=torch.int64)
        if spec.fringing_sigma > 0:
            out["fringing_sigma"] = torch.tensor(float(spec.fringing_sigma), dtype=torch.float64)
        if spec.fill_factor < 1:
            out["fill_factor"] = torch.tensor(float(spec.fill_factor), dtype=torch.float64)
        if self.illuminated:
            if spec.illumination_waist is not None:
                waist = float(spec.illumination_waist)
                out["illumination_waist"] = torch.tensor(waist, dtype=torch.float64)
            if spec.illumination_tilt_std > 0:
                out["tilt_x"] = _normal((), spec.illumination_tilt_std, generator)
                out["tilt_y"] = _normal((), spec.illumination_tilt_std, generator)
        return out

    def extra_repr(self) -> str:
        return f"{self._geometry_repr()}, wrap={self.wrap}, illuminated={self.illuminated}"


class FreeSpace(_Gap):
    """The final free-space gap of ``distance`` m to the detector plane (no parameters).

    The detector plane is measured (it is the output), but, as in the paper (one SEPN per
    diffractive layer), it carries no SEPN (``has_sepn = False``): the last layer's SEPN
    already acts on the field that this gap propagates, and in short runs an extra
    detector-plane SEPN did not help while costing a fifth more time.
    """

    has_sepn = False

    def forward(self, field: Tensor, errors: BlockErrors | None = None) -> Tensor:
        return self.propagate(field, errors)

    def draw_errors(self, spec: object, generator: torch.Generator) -> dict[str, Tensor]:
        """``gap_error`` (m) from a :class:`DiffractiveErrorSpec`; ``{}`` otherwise."""
        if not isinstance(spec, DiffractiveErrorSpec):
            return {}
        return self._draw_gap(spec, generator)

    def extra_repr(self) -> str:
        return self._geometry_repr()


class ImageEncoder(nn.Module):
    """Images ``(B, h, w)`` in [0, 1] -> complex input field ``(B, n, n)``.

    Each image is resized to ``size x size`` pixels and placed at the centre of the ``n x n``
    input plane, encoded in the amplitude (field = pixel value) or in the phase
    (``exp(i pi x)`` inside the image square, 0 outside) of a unit plane wave.
    """

    def __init__(self, neurons: int, size: int, mode: str = "amplitude") -> None:
        super().__init__()
        if not 1 <= size <= neurons:
            raise ValueError(f"input size must be in [1, neurons={neurons}], got {size}")
        if mode not in ("amplitude", "phase"):
            raise ValueError(f"encoding must be 'amplitude' or 'phase', got {mode!r}")
        self.neurons, self.size, self.mode = int(neurons), int(size), mode

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 3:
            raise ValueError(f"images must be (B, H, W), got shape {tuple(images.shape)}")
        return embed_image(images, self.neurons, self.size, self.mode)

    def extra_repr(self) -> str:
        return f"neurons={self.neurons}, size={self.size}, mode={self.mode}"


class DetectorReadout(nn.Module):
    """Detector-plane intensity ``(B, n, n)`` -> class scores ``(B, K)``.

    Integrates the intensity over each of the ``K`` detector regions (``masks (K, n, n)``),
    normalises per sample and multiplies by ``temperature``. ``normalise="l2"`` (default)
    scales the ``K`` detector signals to unit L2 norm, as the MPNN's readout does: invariant to
    the unknown exposure / detector gain and to the input power, so a Gaussian illumination
    or light lost outside the aperture does not change the scale of the logits.
    ``normalise="total"`` divides by the total power on the detector plane (the fraction of
    the light that each detector collects; rewards concentrating light on the detectors but
    needs a larger temperature).
    """

    def __init__(self, masks: Tensor, temperature: float = 10.0, normalise: str = "l2") -> None:
        super().__init__()
        if masks.dim() != 3:
            raise ValueError(f"masks must be (K, H, W), got shape {tuple(masks.shape)}")
        if normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {normalise!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.register_buffer("masks", masks.to(torch.bool), persistent=False)
        self.temperature = float(temperature)
        self.normalise = normalise

    @property
    def num_classes(self) -> int:
        return int(self.masks.shape[0])

    def detector_signals(self, intensity: Tensor) -> Tensor:
        """Integrated intensity per detector region ``(B, K)``, detector units."""
        return integrate_regions(intensity, self.masks)

    def forward(self, intensity: Tensor) -> Tensor:
        signals = self.detector_signals(intensity)
        if self.normalise == "l2":
            return self.temperature * l2_normalise(signals)
        total = intensity.flatten(1).sum(dim=1, keepdim=True).clamp_min(1e-30)
        return self.temperature * signals / total

    def extra_repr(self) -> str:
        return (
            f"detectors={self.num_classes}, temperature={self.temperature:g}, "
            f"normalise={self.normalise}"
        )
