import logging

import pytest
import torch

from photonic_dat.training.checkpoint import (
    CheckpointStore,
    load_optimiser_state,
    optimiser_state,
)


def _trained_adam(steps: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    params = [
        torch.nn.Parameter(torch.randn(4, 3, generator=g)),
        torch.nn.Parameter(torch.zeros(5)),
    ]
    opt = torch.optim.Adam(params, lr=0.01, betas=(0.8, 0.99))
    for _ in range(steps):
        opt.zero_grad()
        loss = (params[0] ** 2).sum() + (params[1] - 1).pow(2).sum()
        loss.backward()
        opt.step()
    return params, opt


def test_optimiser_state_round_trips_and_the_next_steps_are_identical():
    params, opt = _trained_adam(3)
    tensors, meta = optimiser_state(opt, "optim/x")
    assert all(k.startswith("optim/x/state/") for k in tensors)
    copy_params = [torch.nn.Parameter(p.detach().clone()) for p in params]
    copy = torch.optim.Adam(copy_params, lr=0.5)  # different settings, overwritten
    load_optimiser_state(copy, "optim/x", tensors, meta)
    assert copy.param_groups[0]["betas"] == (0.8, 0.99)
    assert copy.param_groups[0]["lr"] == 0.01
    for a, b in ((opt, params), (copy, copy_params)):
        for _ in range(2):
            a.zero_grad()
            ((b[0] ** 2).sum() + (b[1] - 1).pow(2).sum()).backward()
            a.step()
    for p, q in zip(params, copy_params, strict=True):
        assert torch.equal(p, q)


def _save(store, epoch, batch, value):
    return store.save(epoch, batch, {"w": torch.full((3,), float(value))}, {"value": value})


def test_store_keeps_the_newest_and_orders_by_position(tmp_path):
    store = CheckpointStore(tmp_path / "ck", keep=2)
    _save(store, 0, 5, 1)
    _save(store, 1, 0, 2)
    _save(store, 1, 3, 3)
    assert [c.name for c in store.list()] == ["ckpt-e0001-b000000", "ckpt-e0001-b000003"]
    info, tensors, meta = store.latest()
    assert (info.epoch, info.batch, meta["value"]) == (1, 3, 3)
    assert torch.equal(tensors["w"], torch.full((3,), 3.0))


@pytest.mark.parametrize("damage", ["truncate", "flip", "meta"])
def test_a_damaged_newest_checkpoint_is_reported_and_the_previous_one_used(
    tmp_path, caplog, damage
):
    store = CheckpointStore(tmp_path / "ck", keep=3)
    _save(store, 0, 2, 1)
    newest = _save(store, 0, 4, 2)
    state = newest.path / CheckpointStore.STATE
    if damage == "truncate":
        state.write_bytes(state.read_bytes()[:40])
    elif damage == "flip":
        data = bytearray(state.read_bytes())
        data[-1] ^= 0xFF
        state.write_bytes(bytes(data))
    else:
        (newest.path / CheckpointStore.META).write_text('{"epoch": 0, "ba')
    with caplog.at_level(logging.WARNING):
        info, _, meta = store.latest()
    assert meta["value"] == 1 and info.batch == 2
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and newest.name in lines[0] and "damaged" in lines[0]
    store.discard_after(info)
    assert [c.batch for c in store.list()] == [2]


def test_leftovers_of_a_cut_write_are_not_checkpoints(tmp_path):
    store = CheckpointStore(tmp_path / "ck")
    _save(store, 0, 1, 1)
    (tmp_path / "ck" / ".tmp-ckpt-e0000-b000002-99").mkdir()  # killed before its rename
    assert [c.batch for c in store.list()] == [1]
    store.discard_after(store.list()[0])
    assert not list((tmp_path / "ck").glob(".tmp-*"))
    assert store.latest()[0].batch == 1
