"""A photonic neural network: an encoder, a chain of blocks and a readout."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.models.blocks import Block

#: called after block ``k`` with its output field; returns the field passed on
BlockHook = Callable[[int, Tensor], Tensor]


@dataclass
class Trace:
    """The output field and the fields after each measurable internal block."""

    output: Tensor
    states: dict[int, Tensor]


class PNN(nn.Module):
    """Encoder -> blocks -> readout. Only the blocks are optical.

    ``known_errors`` is what the twin knows of the device's errors: ``None`` for the ideal
    twin, or the error parameters a calibration fitted (the twin then runs every block with
    them, see :mod:`photonic_dat.calibration`).
    """

    def __init__(self, encoder: nn.Module, blocks: Sequence[Block], readout: nn.Module) -> None:
        super().__init__()
        if not blocks:
            raise ValueError("a PNN needs at least one block")
        self.encoder = encoder
        self.blocks = nn.ModuleList(blocks)
        self.readout = readout
        self.known_errors: ErrorRealisation | None = None

    def block_errors(self, index: int):
        """The errors the twin applies to block ``index`` (``None``: ideal)."""
        return None if self.known_errors is None else self.known_errors.block(index)

    def measured_output(self, intensity: Tensor) -> Tensor:
        """The output-plane intensity as the device's output detectors see it (the readout
        may restrict it, e.g. to the readout ports of a mesh); the identity by default."""
        view = getattr(self.readout, "measured_ports", None)
        return intensity if view is None else view(intensity)

    def run_block(self, index: int, field: Tensor) -> Tensor:
        """Block ``index`` of the twin alone (with its known errors, if any)."""
        return self.blocks[index](field, self.block_errors(index))

    @property
    def internal_taps(self) -> tuple[int, ...]:
        """Indices of measurable blocks before the last (their states are internal states)."""
        last = len(self.blocks) - 1
        return tuple(k for k, b in enumerate(self.blocks) if b.measurable and k != last)

    @property
    def trainable_blocks(self) -> tuple[int, ...]:
        return tuple(
            k for k, b in enumerate(self.blocks) if any(True for _ in b.parameters(recurse=True))
        )

    def optical_parameters(self) -> dict[str, Tensor]:
        """The parameters displayed on the hardware (phase masks / phase shifter settings)."""
        return {f"blocks.{name}": p for name, p in self.blocks.named_parameters()}

    def run(
        self,
        field: Tensor,
        *,
        errors: ErrorRealisation | None = None,
        hook: BlockHook | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> Trace:
        """Propagate an input field through blocks ``start .. stop-1`` (with ``errors``, or
        else with the twin's ``known_errors``)."""
        stop = len(self.blocks) if stop is None else stop
        errors = errors if errors is not None else self.known_errors
        taps = set(self.internal_taps)
        states: dict[int, Tensor] = {}
        for k in range(start, stop):
            block_errors = errors.block(k) if errors is not None else None
            field = self.blocks[k](field, block_errors)
            if hook is not None:
                field = hook(k, field)
            if k in taps:
                states[k] = field
        return Trace(output=field, states=states)

    def forward(self, images: Tensor) -> Tensor:
        """Ideal class scores of raw images (the in-silico model)."""
        out = self.run(self.encoder(images)).output
        return self.readout(out.real**2 + out.imag**2)
