import json

import pytest
import torch

from photonic_dat.systems import wire

KEY = b"k" * 32


def test_round_trip_of_every_dtype_bit_for_bit():
    tensors = {
        "a": torch.randn(3, 4),
        "b": torch.randn(2, 5, dtype=torch.complex64),
        "c": torch.arange(7),
        "d": torch.randn(2, dtype=torch.float64),
        "e": torch.randn(4, dtype=torch.complex128).conj(),
        "f": torch.tensor([1, 2, 255], dtype=torch.uint8),
        "empty": torch.zeros(0, 3),
    }
    msg = wire.decode(wire.encode({"op": "x"}, tensors, KEY), KEY, 1 << 20)
    assert msg.header["op"] == "x"
    for name, t in tensors.items():
        assert msg.tensors[name].dtype == t.dtype
        assert torch.equal(msg.tensors[name], t.resolve_conj())


def _codes(frames, key=KEY, max_bytes=1 << 20):
    with pytest.raises(wire.WireError) as info:
        wire.decode(frames, key, max_bytes)
    return info.value.code


def test_tampered_reordered_or_unsigned_messages_are_refused():
    frames = [bytes(f) for f in wire.encode({"op": "x"}, {"a": torch.ones(4)}, KEY)]
    assert _codes(frames, key=b"z" * 32) == "unauthenticated"
    tampered = [frames[0], frames[1][:-1] + b"\1", frames[2]]
    assert _codes(tampered) == "unauthenticated"
    recut = [frames[0] + frames[1][:4], frames[1][4:], frames[2]]
    assert _codes(recut) == "unauthenticated"
    assert _codes([frames[0]]) == "malformed"
    assert _codes(frames, max_bytes=20) == "too-large"


def _signed(header: dict, *buffers: bytes) -> list[bytes]:
    body = [json.dumps(header).encode(), *buffers]
    return [*body, wire.sign(KEY, body)]


def test_declared_tensors_must_match_their_bytes():
    spec = {"name": "a", "dtype": "float32", "shape": [4]}
    assert _codes(_signed({"v": 1, "tensors": [spec]}, b"\0" * 15)) == "malformed"
    assert _codes(_signed({"v": 1, "tensors": [{**spec, "dtype": "object"}]}, b"\0" * 16)) == (
        "malformed"
    )
    assert _codes(_signed({"v": 1, "tensors": [{**spec, "shape": [-4]}]}, b"")) == "malformed"
    assert _codes(_signed({"v": 1, "tensors": [spec, spec]}, b"\0" * 16, b"\0" * 16)) == (
        "malformed"
    )
    assert _codes(_signed({"v": 1, "tensors": []}, b"\0" * 16)) == "malformed"
    assert _codes(_signed({"v": 99, "tensors": []})) == "version"
    nan_header = [b'{"v": 1, "x": NaN, "tensors": []}']
    assert _codes([*nan_header, wire.sign(KEY, nan_header)]) == "malformed"


def test_parameter_digest_depends_on_every_bit():
    p = {"a": torch.zeros(3), "b": torch.ones(2)}
    q = {"b": torch.ones(2), "a": torch.zeros(3)}
    assert wire.params_digest(p) == wire.params_digest(q)
    r = {"a": torch.tensor([0.0, 0.0, 1e-30]), "b": torch.ones(2)}
    assert wire.params_digest(p) != wire.params_digest(r)
