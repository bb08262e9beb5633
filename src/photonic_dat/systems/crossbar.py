"""Our simulated analog crossbar: the twin's layers realised on imperfect arrays.

Each analog layer's weights are written as differential conductance pairs with the device's
fixed per-cell errors (programming gain and offset, stuck cells), read through first-order IR
drop, a DAC and an ADC per tile, with fresh read noise at every read
(:mod:`photonic_dat.circuits.crossbar`). Digital layers run exactly. The measured states are
the ADC outputs of the analog layers, in the same units as the twin's pre-activations.
Writing a new weight set is a counted parameter upload (reprogramming).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import Tensor

from photonic_dat.circuits.crossbar import (
    crossbar_matvec,
    ir_drop_conductances,
    program_cells,
    weight_to_conductances,
)
from photonic_dat.errors.crossbar import CrossbarErrorSpec
from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.exceptions import UsageError
from photonic_dat.models.crossbar import CrossbarLayer
from photonic_dat.models.pnn import PNN
from photonic_dat.systems.base import Capabilities, LayerwiseSystem

__all__ = ["SimulatedCrossbar"]


class SimulatedCrossbar(LayerwiseSystem):
    """A crossbar MLP device with a hidden error realisation (``CrossbarLayer.draw_errors``).

    Args:
        architecture: the twin (its analog layers are :class:`CrossbarLayer`).
        realisation: the device's fixed per-cell errors.
        spec: periphery and error sizes (:class:`CrossbarErrorSpec`).
        seed: seed of the read-noise stream.
        internal_taps, block_access: whether the ADC outputs of internal layers can be read,
            and whether one layer can be driven alone.
    """

    def __init__(
        self,
        architecture: PNN,
        realisation: ErrorRealisation,
        spec: CrossbarErrorSpec,
        *,
        seed: int = 0,
        internal_taps: bool = True,
        block_access: bool = True,
    ) -> None:
        if len(realisation.blocks) != len(architecture.blocks):
            raise UsageError(
                f"realisation has {len(realisation.blocks)} blocks, the network has "
                f"{len(architecture.blocks)}"
            )
        taps = architecture.internal_taps if internal_taps else ()
        super().__init__(Capabilities(internal_taps=taps, block_access=block_access))
        self._model = copy.deepcopy(architecture).requires_grad_(False)
        self._realisation = realisation
        self._spec = spec
        self._generator = torch.Generator().manual_seed(int(seed))
        self._programmed: dict[int, tuple[Tensor, Tensor, Tensor]] = {}
        self._written: dict[str, Tensor] = {}

    def _generators(self) -> dict[str, torch.Generator]:
        return {"read-noise": self._generator}

    def save_device(self, directory) -> None:
        """Write the hidden realisation (for the simulator's record; trainers never read it)."""
        self._realisation.save(directory)

    def _program(self, params: Mapping[str, Tensor]) -> None:
        """Write changed weights into the arrays (the device's fixed errors apply)."""
        for k, block in enumerate(self._model.blocks):
            if not isinstance(block, CrossbarLayer):
                continue
            name = f"blocks.{k}.weight"
            if name not in params:
                raise KeyError(f"missing crossbar weights {name!r}")
            weight = params[name].detach()
            if name in self._written and torch.equal(self._written[name], weight):
                continue
            self._written[name] = weight.clone()
            errors = self._realisation.block(k)
            g_pos, g_neg, w_max = weight_to_conductances(weight)
            real = []
            for side, g in enumerate((g_pos, g_neg)):
                if errors:
                    g = program_cells(
                        g,
                        errors["gain"][side],
                        errors["offset"][side],
                        errors["stuck_on"][side],
                        errors["stuck_off"][side],
                    )
                real.append(ir_drop_conductances(g, self._spec.wire_resistance))
            self._programmed[k] = (real[0], real[1], w_max)

    def _layer(self, k: int, x: Tensor) -> Tensor:
        block = self._model.blocks[k]
        if not isinstance(block, CrossbarLayer):
            return block(x)
        g_pos, g_neg, w_max = self._programmed[k]
        s = self._spec
        return w_max * crossbar_matvec(
            x,
            g_pos,
            g_neg,
            dac_bits=s.dac_bits,
            adc_bits=s.adc_bits,
            adc_bound=s.adc_bound,
            read_noise=s.read_noise,
            tile_rows=s.tile_rows,
            generator=self._generator,
        )
