"""SEPNs for any block state: the right network for each kind, zero at the start."""

import pytest
import torch

from photonic_dat.exceptions import ConfigError
from photonic_dat.models.field_sepn import FieldSEPN
from photonic_dat.models.pnn import PNN
from photonic_dat.models.state_sepn import (
    ConvSEPN,
    SEPNOptions,
    VectorSEPN,
    default_sepns,
    sepn_for_state,
)


@pytest.mark.parametrize(
    "state, kind",
    [
        (torch.zeros(2, 8, 8, dtype=torch.complex64), FieldSEPN),  # a field on a grid
        (torch.zeros(2, 16, dtype=torch.complex64), FieldSEPN),  # square number of ports
        (torch.zeros(2, 10, dtype=torch.complex64), VectorSEPN),  # other port counts
        (torch.zeros(2, 32), VectorSEPN),  # a crossbar's pre-activations
        (torch.zeros(2, 6, 6), ConvSEPN),  # a real map
        (torch.zeros(2, 3, 6, 6), ConvSEPN),  # a real multi-channel map
    ],
)
def test_each_state_gets_a_fitting_sepn_returning_zero_at_first(state, kind):
    sepn = sepn_for_state(state, SEPNOptions(features=(4,)))
    assert isinstance(sepn, kind)
    probe = torch.randn_like(state)
    out = sepn(probe)
    assert out.shape == probe.shape and out.dtype == probe.dtype
    assert torch.count_nonzero(out) == 0


def test_unsupported_state_names_the_shape():
    with pytest.raises(ConfigError, match=r"\(2, 3, 4, 5\)"):
        sepn_for_state(torch.zeros(1, 2, 3, 4, 5))


def test_vector_sepn_learns_a_real_residual():
    """A saturating output stage: y -> 3 tanh(y / 3); the residual MLP fits the difference."""
    torch.manual_seed(0)
    sepn = VectorSEPN(8, hidden=32)
    y = 2 * torch.randn(256, 8)
    target = 3 * torch.tanh(y / 3)
    opt = torch.optim.Adam(sepn.parameters(), lr=1e-2)
    start = float((y - target).square().mean())
    for _ in range(300):
        loss = (y + sepn(y) - target).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.05 * start


def test_default_sepns_probe_the_twin_for_measurable_blocks_only():
    twin = PNN(
        torch.nn.Flatten(),
        [torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)],
        torch.nn.Identity(),
        measurable=[True, False, True],
    )
    sepns = default_sepns(twin, twin.encoder(torch.rand(2, 4, 4)))
    assert sorted(sepns) == [0, 2]
    assert sepns[0].size == 8 and sepns[2].size == 3
    assert twin.internal_taps == (0,)
    with pytest.raises(ConfigError, match="field_shape"):
        default_sepns(twin)  # plain modules need an example input
