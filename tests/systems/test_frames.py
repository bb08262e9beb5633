import pytest
import torch

from photonic_dat.systems.faults import FRAME_FAULTS, FaultPlan, apply_frame_fault
from photonic_dat.systems.frames import check_frames, input_ids, plan_sentinels, sentinel_image


def _device(rows: torch.Tensor) -> torch.Tensor:
    """A stand-in device: a fixed nonlinear map of each row."""
    w = torch.linspace(-1, 1, rows.shape[1] * 5).reshape(rows.shape[1], 5)
    return (rows @ w).sin() ** 2 + 0.1


def _request(n=20, sentinels=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    rows = torch.rand(n, 6, generator=g)
    plan = plan_sentinels(n, sentinels, g)
    composite = plan.interleave(rows, sentinel_image((6,)))
    ids = input_ids("req#1", composite)
    return rows, plan, composite, ids


def test_sentinels_sit_apart_and_the_items_keep_their_order():
    g = torch.Generator().manual_seed(0)
    for n in (1, 2, 5, 50):
        for count in (2, 3):
            plan = plan_sentinels(n, count, g)
            gaps = [b - a for a, b in zip(plan.sentinels, plan.sentinels[1:], strict=False)]
            assert all(gap >= 2 for gap in gaps)
            assert plan.total == n + len(plan.sentinels)
            rows = torch.arange(n, dtype=torch.float32)[:, None]
            mixed = plan.interleave(rows, torch.tensor([-1.0]))
            assert torch.equal(mixed[plan.items], rows)
    with pytest.raises(ValueError):
        plan_sentinels(5, 1, g)


def test_honest_frames_pass_and_every_injected_fault_is_caught():
    rows, plan, composite, ids = _request()
    frames = {"output": _device(composite), "tap:0": _device(composite * 0.5)}
    assert check_frames(frames, ids, ids, plan, tolerance=0.05, full_scale=100.0) is None
    previous = ({"output": _device(composite + 0.3), "tap:0": _device(composite)}, ids + 7)
    for kind in FRAME_FAULTS:
        bad, bad_ids = apply_frame_fault(kind, frames, ids, previous, full_scale=100.0)
        problem = check_frames(bad, bad_ids, ids, plan, tolerance=0.05, full_scale=100.0)
        assert problem is not None, kind


@pytest.mark.parametrize("noise", [0.01, 0.08])
def test_a_lag_is_caught_even_with_noise_and_ids_intact(noise):
    """Noise above the tolerance passes (distinct inputs differ by more), a lag does not."""
    for seed in range(20):
        rows, plan, composite, ids = _request(n=40, seed=seed)
        g = torch.Generator().manual_seed(100 + seed)
        clean = _device(composite)
        noisy = clean * (1 + noise * torch.randn(clean.shape, generator=g))
        assert check_frames({"output": noisy}, ids, ids, plan, tolerance=0.05) is None
        lagged = torch.cat([noisy[:1], noisy[:-1]])
        problem = check_frames({"output": lagged}, ids, ids, plan, tolerance=0.05)
        assert problem is not None and "line up" in problem


def test_ids_are_tied_to_request_position_and_content():
    rows = torch.rand(4, 3)
    a = input_ids("r#1", rows)
    assert len(set(a.tolist())) == 4
    assert torch.equal(a, input_ids("r#1", rows.clone()))
    assert not torch.equal(a, input_ids("r#2", rows))
    changed = rows.clone()
    changed[2, 1] += 1e-6
    assert (a != input_ids("r#1", changed)).tolist() == [False, False, True, False]
    assert input_ids("r", torch.rand(2, 3, dtype=torch.complex64)).shape == (2,)


def test_fault_plans_parse_and_refuse_nonsense():
    plan = FaultPlan.parse("drop-reply@3, delay@2=0.5;restart@3")
    assert plan.at(3) == {"drop-reply": None, "restart": None}
    assert plan.at(2) == {"delay": 0.5} and plan.at(1) == {}
    for bad in ("explode@1", "drop-reply@0", "delay@2", "drop-reply@x"):
        with pytest.raises(ValueError):
            FaultPlan.parse(bad)
