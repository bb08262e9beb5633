"""Bring your own analog system: a twin of plain PyTorch modules and a PhysicalSystem that
stands in for the hardware, trained with DAT. Run: python examples/custom_analog_system.py"""

import torch
from torch import nn

import photonic_dat as pdat


class AnalogChip(pdat.PhysicalSystem):
    """The hardware: hidden per-weight gain errors, a saturating output stage and read
    noise. Trainers reach it only through measure(), which counts every query."""

    def __init__(self, twin: pdat.PNN, seed: int = 0) -> None:
        super().__init__(pdat.Capabilities(internal_taps=twin.internal_taps))
        g = torch.Generator().manual_seed(seed)
        params = twin.optical_parameters()  # what the chip is programmed with
        self.gain = {k: 1 + 0.3 * torch.randn(p.shape, generator=g) for k, p in params.items()}
        self.noise = torch.Generator().manual_seed(seed + 1)

    def _layer(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        y = 3 * torch.tanh(x @ w.t() / 3)  # the output amplifier saturates at +-3
        return y + 0.02 * torch.randn(y.shape, generator=self.noise)

    def _measure(self, params, inputs, taps):
        w = {k: v * self.gain[k] for k, v in params.items()}
        hidden = self._layer(inputs, w["blocks.0.weight"])
        out = self._layer(torch.relu(hidden), w["blocks.2.weight"])
        return pdat.Measurement(output=out, taps={0: hidden} if 0 in taps else {})


def main(epochs: int = 15) -> dict:
    torch.manual_seed(0)
    # The twin: ideal matrix products (real-valued, measurable) and a digital ReLU (not).
    layers = [nn.Linear(64, 32, bias=False), nn.ReLU(), nn.Linear(32, 10, bias=False)]
    twin = pdat.PNN(nn.Flatten(), layers, nn.Identity(), measurable=[True, False, True])
    keys = ["data.name=digits", f"train.epochs={epochs}", "train.batch_size=32"]
    config = pdat.load_config(None, [*keys, "train.progress=false"])
    splits = pdat.load_splits(config)
    system = AnalogChip(twin)
    sepns = pdat.default_sepns(twin, twin.encoder(splits.train.images[:2]))  # small MLPs
    settings = pdat.DATSettings(internal_states="unitary", sepn_start_epoch=2)
    method = pdat.DAT(twin, system, pdat.OptimSettings(lr=0.01), sepns, settings)
    result = pdat.fit(pdat.Experiment(config, splits, system, method)).result
    accuracy, queries = result["test_accuracy_physical"], result["physical_queries"]
    print(f"DAT w/ IS on the analog chip: test accuracy {accuracy:.3f} ({queries} queries)")
    return result


if __name__ == "__main__":
    main()
