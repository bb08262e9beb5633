"""A physical neural network: a digital encoder, a chain of analog blocks and a readout.

The blocks are any ``nn.Module`` mapping a batch of states to states: complex optical fields
(the library's diffractive and interference blocks) or real signals (a crossbar's
pre-activations, a digital nonlinearity). Each says whether the state after it can be
measured on the hardware; the measurable states before the last block are the *internal
states* that DAT w/ IS reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.exceptions import ConfigError
from photonic_dat.models.blocks import observe

__all__ = ["PNN", "BlockHook", "Trace"]

#: called after block ``k`` with its output state; returns the state passed on
BlockHook = Callable[[int, Tensor], Tensor]


@dataclass
class Trace:
    """The output state and the states after each measurable internal block."""

    output: Tensor
    states: dict[int, Tensor]


class PNN(nn.Module):
    """Encoder -> blocks -> readout. Only the blocks are analog (optical or electronic).

    Args:
        encoder: digital preprocessing, raw inputs ``(B, ...)`` -> the first block's input.
        blocks: the analog chain; any modules called as ``block(state)`` (the library's own
            blocks also take ``block(state, errors)`` for their simulated device).
        readout: digital postprocessing of the detected output (:func:`observe`: intensity of
            a complex field, the value of a real state) -> class scores ``(B, K)``.
        measurable: per block, whether its output state can be measured; default: each
            block's ``measurable`` attribute (``False`` when it has none).
    """

    def __init__(
        self,
        encoder: nn.Module,
        blocks: Sequence[nn.Module],
        readout: nn.Module,
        measurable: Sequence[bool] | None = None,
    ) -> None:
        super().__init__()
        if not blocks:
            raise ConfigError("a PNN needs at least one block")
        if measurable is not None and len(measurable) != len(blocks):
            raise ConfigError(
                f"measurable has {len(measurable)} entries but the PNN has {len(blocks)} blocks"
            )
        self.encoder = encoder
        self.blocks = nn.ModuleList(blocks)
        self.readout = readout
        self.measurable: tuple[bool, ...] = tuple(
            bool(m) if measurable is not None else bool(getattr(b, "measurable", False))
            for m, b in zip(measurable or [None] * len(blocks), blocks, strict=True)
        )
        self.known_errors: ErrorRealisation | None = None

    def block_errors(self, index: int):
        """The errors the twin applies to block ``index`` (``None``: ideal)."""
        return None if self.known_errors is None else self.known_errors.block(index)

    def measured_output(self, intensity: Tensor) -> Tensor:
        """The output-plane intensity as the device's output detectors see it (the readout
        may restrict it, e.g. to the readout ports of a mesh); the identity by default."""
        view = getattr(self.readout, "measured_ports", None)
        return intensity if view is None else view(intensity)

    def run_block(self, index: int, state: Tensor) -> Tensor:
        """Block ``index`` of the twin alone (with its known errors, if any)."""
        errors = self.block_errors(index)
        block = self.blocks[index]
        return block(state) if errors is None else block(state, errors)

    @property
    def internal_taps(self) -> tuple[int, ...]:
        """Indices of measurable blocks before the last (their states are internal states)."""
        last = len(self.blocks) - 1
        return tuple(k for k, m in enumerate(self.measurable) if m and k != last)

    @property
    def sepn_blocks(self) -> tuple[int, ...]:
        """Blocks that get an SEPN in DAT: measurable ones that do not opt out (``has_sepn``)."""
        return tuple(
            k
            for k, b in enumerate(self.blocks)
            if self.measurable[k] and getattr(b, "has_sepn", True)
        )

    @property
    def trainable_blocks(self) -> tuple[int, ...]:
        return tuple(
            k for k, b in enumerate(self.blocks) if any(True for _ in b.parameters(recurse=True))
        )

    def optical_parameters(self) -> dict[str, Tensor]:
        """The parameters displayed on the hardware (phase masks, phase shifter settings,
        crossbar weights), named ``blocks.<k>.<name>``."""
        return {f"blocks.{name}": p for name, p in self.blocks.named_parameters()}

    @contextlib.contextmanager
    def caching_physics(self) -> Iterator[None]:
        """Within the block, blocks keep their physics between passes while their parameters
        are unchanged: a method that runs the twin several times per step before updating it
        (DAT's similarity and task passes) builds each mesh matrix once."""
        hooks = [getattr(b, "cache_physics", None) for b in self.blocks]  # any nn.Module block
        hooks = [h for h in hooks if h is not None]
        for hook in hooks:
            hook(True)
        try:
            yield
        finally:
            for hook in hooks:
                hook(False)

    def run(
        self,
        state: Tensor,
        *,
        errors: ErrorRealisation | None = None,
        hook: BlockHook | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> Trace:
        """Propagate an input state through blocks ``start .. stop-1`` (with ``errors``, or
        else with the twin's ``known_errors``)."""
        stop = len(self.blocks) if stop is None else stop
        errors = errors if errors is not None else self.known_errors
        taps = set(self.internal_taps)
        states: dict[int, Tensor] = {}
        for k in range(start, stop):
            block = self.blocks[k]
            state = block(state) if errors is None else block(state, errors.block(k))
            if hook is not None:
                state = hook(k, state)
            if k in taps:
                states[k] = state
        return Trace(output=state, states=states)

    @torch.no_grad()
    def probe(self, inputs: Tensor) -> dict[int, Tensor]:
        """The twin's state after every block for encoded ``inputs`` (shapes, dtypes)."""
        states: dict[int, Tensor] = {}

        def record(k: int, state: Tensor) -> Tensor:
            states[k] = state
            return state

        self.run(inputs, hook=record)
        return states

    def forward(self, inputs: Tensor) -> Tensor:
        """Ideal class scores of raw inputs (the in-silico model)."""
        return self.readout(observe(self.run(self.encoder(inputs)).output))
