"""Systematic error prediction networks (SEPNs).

An SEPN is a small complex-valued CNN ``s`` acting as a residual correction on an optical
field ``y`` of shape (B, H, W): the caller forms ``y + w * s(y)``. Every SEPN here has a
zero-initialised output layer, so a fresh SEPN returns exactly zero and training starts
from the physics model.

Internally the networks run in the stacked real layout of
:mod:`photonic_dat.models.complex_layers` ((B, 2C, H, W): real channels, then imaginary
channels), so CReLU is a plain ReLU and each complex convolution is one real conv call.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from photonic_dat.models.complex_layers import ComplexConv2d, ComplexConvTranspose2d

__all__ = [
    "SEPN_KINDS",
    "ComplexResNet",
    "ComplexUNet",
    "ResampledSEPN",
    "build_sepn",
    "count_complex_parameters",
    "count_parameters",
]

SEPN_KINDS: tuple[str, ...] = ("unet", "resnet")


def count_parameters(module: nn.Module) -> int:
    """Number of real trainable scalars (a complex-dtype parameter entry counts 2)."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in module.parameters())


def count_complex_parameters(module: nn.Module) -> int:
    """Number of complex weights (each real/imag pair counted once): ``count_parameters // 2``.

    This is the convention of frameworks with native complex parameters (``numel`` of a
    complex tensor), which is how SEPN sizes are usually quoted.
    """
    return count_parameters(module) // 2


def _field_to_stacked(z: Tensor, in_channels: int) -> Tensor:
    """Complex (B, H, W) [or (B, C, H, W)] -> stacked real (B, 2C, H, W)."""
    if not z.is_complex():
        raise TypeError(f"SEPN input must be a complex tensor, got dtype {z.dtype}")
    if z.dim() == 3 and in_channels == 1:
        # channels-last: oneDNN convolutions on small feature maps run faster in this layout
        stacked = torch.stack((z.real, z.imag), dim=1)
        return stacked.contiguous(memory_format=torch.channels_last)
    if z.dim() == 4 and z.shape[1] == in_channels:
        return torch.cat((z.real, z.imag), dim=1)
    expected = "(B, H, W)" if in_channels == 1 else f"(B, {in_channels}, H, W)"
    raise ValueError(f"SEPN input must have shape {expected}, got {tuple(z.shape)}")


def _stacked_to_field(x: Tensor) -> Tensor:
    """Stacked real (B, 2, H, W) -> complex (B, H, W)."""
    return torch.complex(x[:, 0], x[:, 1])


def _cat_stacked(a: Tensor, b: Tensor) -> Tensor:
    """Channel-concatenate two stacked tensors keeping the [real..., imag...] layout."""
    bsz, _, h, w = a.shape
    a5 = a.reshape(bsz, 2, a.shape[1] // 2, h, w)
    b5 = b.reshape(bsz, 2, b.shape[1] // 2, h, w)
    return torch.cat((a5, b5), dim=2).reshape(bsz, a.shape[1] + b.shape[1], h, w)


class ComplexUNet(nn.Module):
    """Complex U-Net SEPN.

    Encoder: ``len(features)`` levels of ``convs_per_level`` complex convs (CReLU after
    each); the first conv of every level below the top has stride 2 (downsampling).
    Decoder: per level a 2x2 stride-2 complex transposed conv, channel concatenation with
    the skip, then ``decoder_convs`` complex convs with CReLU. A zero-initialised 1x1
    complex conv maps back to one channel. Inputs whose size is not a multiple of
    ``2 ** (levels - 1)`` are zero-padded (centred) and cropped back.
    """

    def __init__(
        self,
        features: Sequence[int] = (4, 8, 16),
        kernel_size: int = 3,
        convs_per_level: int = 3,
        in_channels: int = 1,
        decoder_convs: int = 1,
    ) -> None:
        super().__init__()
        features = tuple(int(f) for f in features)
        if not features or min(features) < 1:
            raise ValueError(f"features must be a non-empty sequence of positive ints: {features}")
        if convs_per_level < 1 or decoder_convs < 1:
            raise ValueError("convs_per_level and decoder_convs must be >= 1")
        if in_channels < 1:
            raise ValueError("in_channels must be >= 1")
        self.features = features
        self.in_channels = in_channels
        self.levels = len(features)
        self.multiple = 2 ** (self.levels - 1)

        self.encoders = nn.ModuleList()
        ch = in_channels
        for level, f in enumerate(features):
            convs = nn.ModuleList()
            for j in range(convs_per_level):
                stride = 2 if (level > 0 and j == 0) else 1
                convs.append(ComplexConv2d(ch, f, kernel_size, stride=stride))
                ch = f
            self.encoders.append(convs)

        # Decoder modules are indexed by the (finer) level they produce: 0 .. levels-2.
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in range(self.levels - 1):
            f = features[level]
            self.ups.append(ComplexConvTranspose2d(features[level + 1], f, 2, stride=2))
            convs = nn.ModuleList(
                ComplexConv2d(2 * f if j == 0 else f, f, kernel_size) for j in range(decoder_convs)
            )
            self.decoders.append(convs)

        self.out_conv = ComplexConv2d(features[0], 1, 1).zero_()

    def forward(self, z: Tensor) -> Tensor:
        """Complex (B, H, W) -> complex (B, H, W)."""
        return _stacked_to_field(self.forward_stacked(_field_to_stacked(z, self.in_channels)))

    def forward_stacked(self, x: Tensor) -> Tensor:
        """Stacked real (B, 2*in_channels, H, W) -> stacked real (B, 2, H, W)."""
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.multiple, (-w) % self.multiple
        top, left = ph // 2, pw // 2
        if ph or pw:
            x = F.pad(x, (left, pw - left, top, ph - top))

        skips: list[Tensor] = []
        for level, convs in enumerate(self.encoders):
            for conv in convs:
                x = F.relu(conv.forward_stacked(x))
            if level < self.levels - 1:
                skips.append(x)

        for level in reversed(range(self.levels - 1)):
            x = _cat_stacked(self.ups[level].forward_stacked(x), skips[level])
            for conv in self.decoders[level]:
                x = F.relu(conv.forward_stacked(x))

        x = self.out_conv.forward_stacked(x)
        if ph or pw:
            x = x[..., top : top + h, left : left + w]
        return x


class ComplexResNet(nn.Module):
    """Complex ResNet SEPN: 1x1 input projection, ``num_blocks`` residual blocks
    ``x <- CReLU(x + conv(CReLU(conv(x))))`` and a zero-initialised 1x1 output projection."""

    def __init__(
        self,
        channels: int = 8,
        num_blocks: int = 3,
        kernel_size: int = 3,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        if channels < 1 or num_blocks < 0 or in_channels < 1:
            raise ValueError("channels and in_channels must be >= 1, num_blocks >= 0")
        self.channels = channels
        self.in_channels = in_channels
        self.in_proj = ComplexConv2d(in_channels, channels, 1)
        self.blocks = nn.ModuleList(
            nn.ModuleList(
                (
                    ComplexConv2d(channels, channels, kernel_size),
                    ComplexConv2d(channels, channels, kernel_size),
                )
            )
            for _ in range(num_blocks)
        )
        self.out_proj = ComplexConv2d(channels, 1, 1).zero_()

    def forward(self, z: Tensor) -> Tensor:
        """Complex (B, H, W) -> complex (B, H, W)."""
        return _stacked_to_field(self.forward_stacked(_field_to_stacked(z, self.in_channels)))

    def forward_stacked(self, x: Tensor) -> Tensor:
        """Stacked real (B, 2*in_channels, H, W) -> stacked real (B, 2, H, W)."""
        x = self.in_proj.forward_stacked(x)
        for conv1, conv2 in self.blocks:
            h = conv2.forward_stacked(F.relu(conv1.forward_stacked(x)))
            x = F.relu(x + h)
        return self.out_proj.forward_stacked(x)


def _resize_stacked(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize a real (B, C, H, W) tensor: area averaging to shrink, bilinear to enlarge."""
    h, w = x.shape[-2:]
    if size[0] <= h and size[1] <= w:
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ResampledSEPN(nn.Module):
    """Run an SEPN at a reduced working resolution.

    (B, H, W) -> resample real/imag parts to ``working_size`` -> ``inner`` -> resample back to
    (H, W). With ``working_size=None`` or equal to (H, W) it simply calls ``inner``. A
    zero-output inner SEPN stays exactly zero after resampling.
    """

    def __init__(self, inner: nn.Module, working_size: tuple[int, int] | None = None) -> None:
        super().__init__()
        if working_size is not None:
            working_size = (int(working_size[0]), int(working_size[1]))
            if min(working_size) < 1:
                raise ValueError(f"working_size must be positive, got {working_size}")
        self.inner = inner
        self.working_size = working_size

    def forward(self, z: Tensor) -> Tensor:
        """Complex (B, H, W) -> complex (B, H, W)."""
        if z.dim() != 3 or not z.is_complex():
            raise ValueError(f"expected a complex (B, H, W) field, got {z.dtype} {tuple(z.shape)}")
        size = tuple(z.shape[-2:])
        if self.working_size is None or self.working_size == size:
            return self.inner(z)
        x = _resize_stacked(torch.stack((z.real, z.imag), dim=1), self.working_size)
        s = self.inner(torch.complex(x[:, 0], x[:, 1]))
        y = _resize_stacked(torch.stack((s.real, s.imag), dim=1), size)
        return torch.complex(y[:, 0], y[:, 1])

    def extra_repr(self) -> str:
        return f"working_size={self.working_size}"


def build_sepn(
    kind: str,
    *,
    features: Sequence[int] = (4, 8, 16),
    kernel_size: int = 3,
    convs_per_level: int = 3,
    decoder_convs: int = 1,
    channels: int = 8,
    num_blocks: int = 3,
    working_size: tuple[int, int] | None = None,
) -> ResampledSEPN:
    """Build an SEPN wrapped in :class:`ResampledSEPN` (always, for stable state-dict keys).

    ``kind="unet"`` uses ``features``, ``kernel_size``, ``convs_per_level``,
    ``decoder_convs``; ``kind="resnet"`` uses ``channels``, ``num_blocks``, ``kernel_size``.
    """
    key = kind.strip().lower() if isinstance(kind, str) else kind
    if key == "unet":
        inner: nn.Module = ComplexUNet(
            features=features,
            kernel_size=kernel_size,
            convs_per_level=convs_per_level,
            decoder_convs=decoder_convs,
        )
    elif key == "resnet":
        inner = ComplexResNet(channels=channels, num_blocks=num_blocks, kernel_size=kernel_size)
    else:
        raise ValueError(f"unknown SEPN kind {kind!r}; valid kinds: {', '.join(SEPN_KINDS)}")
    return ResampledSEPN(inner, working_size)
