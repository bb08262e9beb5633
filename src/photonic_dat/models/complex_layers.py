"""Complex-valued convolution layers built on single real convolution calls.

A complex tensor ``z = x + i y`` of shape (B, C, H, W) is handled internally in a
*stacked* real layout of shape (B, 2C, H, W): the C real channels followed by the C
imaginary channels. A complex convolution with kernel ``W = Wr + i Wi`` then becomes one
real convolution with the block weight ``[[Wr, -Wi], [Wi, Wr]]``:

    real(out) = Wr * x - Wi * y,   imag(out) = Wi * x + Wr * y.

Weights are stored as real parameters (``weight_real``, ``weight_imag``, ``bias_real``,
``bias_imag``) so that every optimiser and ``Module.double()`` work unchanged. The layers
follow the precision of their input: a complex128 input is processed in float64.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ComplexConv2d",
    "ComplexConvTranspose2d",
    "complex_relu",
    "to_stacked",
    "from_stacked",
]


def to_stacked(z: Tensor) -> Tensor:
    """Complex (B, C, H, W) -> real stacked (B, 2C, H, W) = [real channels, imag channels]."""
    if not z.is_complex():
        raise TypeError(f"expected a complex tensor, got dtype {z.dtype}")
    if z.dim() != 4:
        raise ValueError(f"expected shape (B, C, H, W), got {tuple(z.shape)}")
    return torch.cat((z.real, z.imag), dim=1)


def from_stacked(x: Tensor) -> Tensor:
    """Real stacked (B, 2C, H, W) -> complex (B, C, H, W)."""
    c = x.shape[1] // 2
    return torch.complex(x[:, :c], x[:, c:])


def complex_relu(z: Tensor) -> Tensor:
    """CReLU: ReLU applied separately to the real and imaginary parts."""
    return torch.complex(F.relu(z.real), F.relu(z.imag))


def _as_real(w: Tensor, dtype: torch.dtype) -> Tensor:
    """A real parameter as ``dtype``; tolerates ``Module.to(complex)`` (imag part is zero)."""
    if w.is_complex():
        w = w.real
    return w if w.dtype == dtype else w.to(dtype)


class _ComplexConvBase(nn.Module):
    """Shared storage, initialisation and block-weight assembly."""

    transposed: bool = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        bias: bool,
        fan_in: float,
    ) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1 or kernel_size < 1 or stride < 1:
            raise ValueError("channels, kernel_size and stride must be positive")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        if self.transposed:
            shape = (in_channels, out_channels, kernel_size, kernel_size)
        else:
            shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight_real = nn.Parameter(torch.empty(shape))
        self.weight_imag = nn.Parameter(torch.empty(shape))
        if bias:
            self.bias_real = nn.Parameter(torch.zeros(out_channels))
            self.bias_imag = nn.Parameter(torch.zeros(out_channels))
        else:
            self.register_parameter("bias_real", None)
            self.register_parameter("bias_imag", None)
        self._fan_in = max(fan_in, 1.0)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Complex He init: real and imaginary parts ~ N(0, 1/fan_in), so E|w|^2 = 2/fan_in.

        With CReLU on the real and imaginary parts this keeps activations' variance
        roughly constant through depth. Biases start at zero.
        """
        std = 1.0 / math.sqrt(self._fan_in)
        with torch.no_grad():
            self.weight_real.normal_(0.0, std)
            self.weight_imag.normal_(0.0, std)
            if self.bias_real is not None:
                self.bias_real.zero_()
                self.bias_imag.zero_()

    def zero_(self) -> _ComplexConvBase:
        """Set weights and biases to zero (used for the SEPN output layer)."""
        with torch.no_grad():
            for p in self.parameters():
                p.zero_()
        return self

    @property
    def weight(self) -> Tensor:
        """The complex kernel ``Wr + i Wi`` (a differentiable view for inspection)."""
        return torch.complex(self.weight_real, self.weight_imag)

    def _block_weight(self, dtype: torch.dtype) -> Tensor:
        wr = _as_real(self.weight_real, dtype)
        wi = _as_real(self.weight_imag, dtype)
        if self.transposed:
            # conv_transpose weights are (in, out, k, k): rows index input blocks.
            top = torch.cat((wr, wi), dim=1)  # from real input -> (real, imag) outputs
            bottom = torch.cat((-wi, wr), dim=1)  # from imag input
        else:
            top = torch.cat((wr, -wi), dim=1)  # real output <- (real, imag) inputs
            bottom = torch.cat((wi, wr), dim=1)  # imag output
        return torch.cat((top, bottom), dim=0)

    def _block_bias(self, dtype: torch.dtype) -> Tensor | None:
        if self.bias_real is None:
            return None
        return torch.cat((_as_real(self.bias_real, dtype), _as_real(self.bias_imag, dtype)))

    def forward_stacked(self, x: Tensor) -> Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, z: Tensor) -> Tensor:
        """Complex (B, C_in, H, W) -> complex (B, C_out, H', W')."""
        return from_stacked(self.forward_stacked(to_stacked(z)))

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, bias={self.bias_real is not None}"
        )


class ComplexConv2d(_ComplexConvBase):
    """Complex 2-D convolution computed as one real ``conv2d`` call.

    ``padding="same"`` keeps the size for stride 1 (any kernel size) and gives
    ``ceil(H / stride)`` for stride > 1 with odd kernels (and exactly ``H / stride`` for
    even H with any kernel size); an int is passed through to ``conv2d``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | str = "same",
        bias: bool = True,
    ) -> None:
        if isinstance(padding, str):
            if padding != "same":
                raise ValueError(f"padding must be an int or 'same', got {padding!r}")
            if stride > 1:
                padding = (kernel_size - 1) // 2
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            bias,
            fan_in=in_channels * kernel_size * kernel_size,
        )
        self.padding: int | str = padding

    def forward_stacked(self, x: Tensor) -> Tensor:
        """Stacked real (B, 2C_in, H, W) -> stacked real (B, 2C_out, H', W')."""
        return F.conv2d(
            x,
            self._block_weight(x.dtype),
            self._block_bias(x.dtype),
            stride=self.stride,
            padding=self.padding,
        )

    def extra_repr(self) -> str:
        return super().extra_repr() + f", padding={self.padding!r}"


class ComplexConvTranspose2d(_ComplexConvBase):
    """Complex transposed convolution (default: 2x2 kernel, stride 2 -> exact 2x upsampling)."""

    transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 2,
        stride: int = 2,
        padding: int = 0,
        output_padding: int = 0,
        bias: bool = True,
    ) -> None:
        # Each output pixel receives about in_channels * (k / stride)^2 contributions.
        fan_in = in_channels * (kernel_size / stride) ** 2
        super().__init__(in_channels, out_channels, kernel_size, stride, bias, fan_in=fan_in)
        self.padding = padding
        self.output_padding = output_padding

    def forward_stacked(self, x: Tensor) -> Tensor:
        """Stacked real (B, 2C_in, H, W) -> stacked real (B, 2C_out, H', W')."""
        return F.conv_transpose2d(
            x,
            self._block_weight(x.dtype),
            self._block_bias(x.dtype),
            stride=self.stride,
            padding=self.padding,
            output_padding=self.output_padding,
        )

    def extra_repr(self) -> str:
        return super().extra_repr() + f", padding={self.padding}"
