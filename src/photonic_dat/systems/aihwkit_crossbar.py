"""IBM aihwkit's analog crossbar as a physical system (optional extra ``photonic-dat[aihwkit]``).

Each analog layer of the twin becomes an ``aihwkit.nn.AnalogLinear`` on aihwkit's pure-PyTorch
inference tile (``TorchInferenceRPUConfig``) with its PCM device model
(``PCMLikeNoiseModel``: conductance-dependent programming noise, drift and 1/f read noise,
fitted to measured PCM devices), global drift compensation, and its input/output periphery
(DAC and ADC resolution, output bound, output noise). Writing a new weight set programs the
tiles again (fresh programming noise, as on a PCM chip) and lets them drift for
``t_inference`` seconds; it is a counted parameter upload. Every read draws new read noise.

Install: ``pip install aihwkit==1.1.0 --no-deps`` (aihwkit's compiled tiles and its pinned
requirements do not fit torch 2.13; the pure-PyTorch tile used here does). IR drop is not
simulated here: aihwkit 1.1.0's ``TorchInferenceRPUConfig`` refuses ``ir_drop`` ("IR drop
not supported in torch tile"), and its time-dependent IR-drop tile
(``TorchInferenceRPUConfigIRDropT``) needs about 140 MB and 30-100 ms per sample and layer
on a CPU (measured), too much for training. Our own simulated crossbar has first-order IR
drop.

All of aihwkit's randomness draws from torch's global generator; each call here runs in a
forked generator state seeded from the device stream, so runs are reproducible and the
caller's random state is left alone. A resumed run continues the device stream but programs
the tiles afresh (a new programming draw): the programmed conductances are not checkpointed.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping

import torch
from torch import Tensor, nn

from photonic_dat.errors.crossbar import CrossbarErrorSpec
from photonic_dat.exceptions import UsageError
from photonic_dat.models.crossbar import CrossbarLayer
from photonic_dat.models.pnn import PNN
from photonic_dat.systems.base import Capabilities, LayerwiseSystem

__all__ = ["AihwkitCrossbar", "aihwkit_rpu_config"]

INSTALL_HINT = (
    "system.kind=aihwkit needs IBM's aihwkit: pip install aihwkit==1.1.0 --no-deps "
    "(see the README, section 'Optional extras')"
)


def _aihwkit():
    try:
        from aihwkit.inference import GlobalDriftCompensation, PCMLikeNoiseModel
        from aihwkit.nn import AnalogLinear
        from aihwkit.simulator.configs import TorchInferenceRPUConfig
    except ImportError as exc:
        raise UsageError(f"{INSTALL_HINT} ({exc})") from None
    return AnalogLinear, TorchInferenceRPUConfig, PCMLikeNoiseModel, GlobalDriftCompensation


def aihwkit_rpu_config(spec: CrossbarErrorSpec):
    """aihwkit's ``TorchInferenceRPUConfig`` for ``spec`` (PCM model, periphery, mapping)."""
    _, rpu_class, pcm_class, drift_class = _aihwkit()
    rpu = rpu_class()
    rpu.noise_model = pcm_class(
        g_max=spec.pcm_g_max,
        prog_noise_scale=spec.pcm_prog_noise_scale,
        read_noise_scale=spec.pcm_read_noise_scale,
        drift_scale=spec.pcm_drift_scale,
    )
    rpu.drift_compensation = drift_class()
    rpu.mapping.weight_scaling_omega = 1.0  # max |W| of each tile -> g_max
    rpu.mapping.max_input_size = spec.tile_rows
    fwd = rpu.forward
    fwd.inp_res = 1.0 / (2 ** (spec.dac_bits - 1) - 1) if spec.dac_bits else -1
    fwd.out_res = 1.0 / (2**spec.adc_bits - 2) if spec.adc_bits else -1
    fwd.out_bound = spec.adc_bound
    fwd.out_noise = spec.read_noise
    return rpu


class AihwkitCrossbar(LayerwiseSystem):
    """The twin's crossbar layers on aihwkit analog tiles (see the module docstring)."""

    def __init__(
        self,
        architecture: PNN,
        spec: CrossbarErrorSpec,
        *,
        seed: int = 0,
        internal_taps: bool = True,
        block_access: bool = True,
    ) -> None:
        analog_linear = _aihwkit()[0]
        taps = architecture.internal_taps if internal_taps else ()
        super().__init__(Capabilities(internal_taps=taps, block_access=block_access))
        self._model = copy.deepcopy(architecture).requires_grad_(False)
        self._spec = spec
        self._seeds = torch.Generator().manual_seed(int(seed))
        rpu = aihwkit_rpu_config(spec)
        self._tiles: dict[int, nn.Module] = {}
        with self._device_random():
            for k, block in enumerate(self._model.blocks):
                if isinstance(block, CrossbarLayer):
                    out_features, in_features = block.weight.shape
                    layer = analog_linear(in_features, out_features, bias=False, rpu_config=rpu)
                    self._tiles[k] = layer.eval()
        self._written: dict[str, Tensor] = {}

    def _generators(self) -> dict[str, torch.Generator]:
        return {"device": self._seeds}

    @contextlib.contextmanager
    def _device_random(self) -> Iterator[None]:
        """A forked global generator seeded from the device stream (aihwkit draws from it)."""
        seed = int(torch.randint(0, 2**62, (1,), generator=self._seeds))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield

    def _program(self, params: Mapping[str, Tensor]) -> None:
        for k, layer in self._tiles.items():
            name = f"blocks.{k}.weight"
            weight = params[name].detach()
            if name in self._written and torch.equal(self._written[name], weight):
                continue
            self._written[name] = weight.clone()
            with self._device_random():
                layer.set_weights(weight.clone())
                layer.program_analog_weights()
                layer.drift_analog_weights(self._spec.t_inference)

    def _layer(self, k: int, x: Tensor) -> Tensor:
        if k not in self._tiles:
            return self._model.blocks[k](x)
        with self._device_random():
            return self._tiles[k](x)
