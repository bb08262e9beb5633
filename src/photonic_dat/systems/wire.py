"""The measurement protocol's wire format: signed multipart messages of JSON plus raw tensors.

One message is a list of byte frames ``[header, buffer_0, ..., buffer_n-1, mac]``:

* ``header``: UTF-8 JSON (no NaN / infinity), with ``"v"`` (:data:`PROTOCOL_VERSION`) and
  ``"tensors"``: one ``{"name", "dtype", "shape"}`` entry per buffer, in order;
* ``buffer_i``: the tensor's bytes, C order, little endian, of a dtype in :data:`DTYPES`;
* ``mac``: HMAC-SHA256 under the shared key over every preceding frame, each prefixed by its
  length (8 bytes, little endian), so that frames cannot be re-cut or reordered.

Nothing is ever unpickled: a tensor is rebuilt from its declared dtype and shape and its size
is checked against them before any byte is interpreted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DTYPES",
    "PROTOCOL_VERSION",
    "Message",
    "WireError",
    "decode",
    "encode",
    "params_digest",
    "sign",
]

#: bumped whenever a message changes meaning; client and server must agree exactly
PROTOCOL_VERSION = 1
#: dtypes a tensor may travel as (numpy names)
DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
    "int64": torch.int64,
    "uint8": torch.uint8,
}
_TORCH_NAMES = {v: k for k, v in DTYPES.items()}
MAX_HEADER_BYTES = 1 << 20
MAX_TENSORS = 64
MAX_DIMS = 6
MAC_BYTES = 32


class WireError(Exception):
    """A message that cannot be accepted; ``code`` says why (sent back in the error reply)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Message:
    """A decoded message: its JSON header and its named tensors."""

    header: dict[str, Any]
    tensors: dict[str, Tensor] = field(default_factory=dict)


def sign(key: bytes, frames: Sequence[bytes | memoryview]) -> bytes:
    """HMAC-SHA256 over length-prefixed frames."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for frame in frames:
        view = memoryview(frame)
        mac.update(view.nbytes.to_bytes(8, "little"))
        mac.update(view)
    return mac.digest()


def _tensor_bytes(t: Tensor) -> memoryview:
    array = np.ascontiguousarray(t.detach().cpu().resolve_conj().numpy())
    if sys.byteorder != "little":  # pragma: no cover - every supported platform is little endian
        array = array.byteswap()
    return memoryview(array.reshape(-1).view(np.uint8))


def encode(header: Mapping[str, Any], tensors: Mapping[str, Tensor], key: bytes) -> list[Any]:
    """The signed frames of a message (``header`` gains ``v`` and ``tensors``)."""
    specs, buffers = [], []
    for name, t in tensors.items():
        if t.dtype not in _TORCH_NAMES:
            raise TypeError(f"tensor {name!r}: dtype {t.dtype} cannot travel (use {list(DTYPES)})")
        specs.append({"name": name, "dtype": _TORCH_NAMES[t.dtype], "shape": list(t.shape)})
        buffers.append(_tensor_bytes(t))
    head = json.dumps(
        {**header, "v": PROTOCOL_VERSION, "tensors": specs}, separators=(",", ":"), allow_nan=False
    ).encode()
    frames: list[Any] = [head, *buffers]
    frames.append(sign(key, frames))
    return frames


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed in a header")


def decode(frames: Sequence[bytes], key: bytes, max_bytes: int) -> Message:
    """Check the MAC, sizes and declared tensors of ``frames``; raise :class:`WireError`."""
    if len(frames) < 2:
        raise WireError("malformed", f"a message has at least 2 frames, got {len(frames)}")
    total = sum(len(f) for f in frames)
    if total > max_bytes:
        raise WireError("too-large", f"message of {total} bytes exceeds the limit of {max_bytes}")
    *body, mac = frames
    if len(mac) != MAC_BYTES or not hmac.compare_digest(sign(key, body), bytes(mac)):
        raise WireError("unauthenticated", "bad message authentication code (wrong key?)")
    head = body[0]
    if len(head) > MAX_HEADER_BYTES:
        raise WireError("malformed", f"header of {len(head)} bytes is too long")
    try:
        header = json.loads(bytes(head).decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError("malformed", f"header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise WireError("malformed", "header must be a JSON object")
    if header.get("v") != PROTOCOL_VERSION:
        raise WireError(
            "version",
            f"protocol version {header.get('v')!r} is not supported (this end speaks "
            f"version {PROTOCOL_VERSION})",
        )
    specs = header.get("tensors", [])
    buffers = body[1:]
    if not isinstance(specs, list) or len(specs) != len(buffers) or len(specs) > MAX_TENSORS:
        raise WireError("malformed", "the tensor list does not match the frames sent")
    tensors: dict[str, Tensor] = {}
    for spec, buf in zip(specs, buffers, strict=True):
        name, t = _decode_tensor(spec, buf)
        if name in tensors:
            raise WireError("malformed", f"tensor {name!r} sent twice")
        tensors[name] = t
    return Message(header, tensors)


def _decode_tensor(spec: Any, buf: bytes) -> tuple[str, Tensor]:
    if not isinstance(spec, dict):
        raise WireError("malformed", "a tensor spec must be an object")
    name, dtype, shape = spec.get("name"), spec.get("dtype"), spec.get("shape")
    if not isinstance(name, str) or not name or len(name) > 200:
        raise WireError("malformed", "a tensor name must be a short non-empty string")
    if dtype not in DTYPES:
        raise WireError("malformed", f"tensor {name!r}: dtype {dtype!r} not in {list(DTYPES)}")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMS
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise WireError("malformed", f"tensor {name!r}: bad shape {shape!r}")
    torch_dtype = DTYPES[dtype]
    itemsize = torch.empty((), dtype=torch_dtype).element_size()
    expected = math.prod(shape) * itemsize
    if len(buf) != expected:
        raise WireError(
            "malformed",
            f"tensor {name!r}: {len(buf)} bytes for shape {shape} {dtype} ({expected} expected)",
        )
    array = np.frombuffer(bytes(buf), dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
    return name, torch.from_numpy(array.astype(np.dtype(dtype), copy=True))


def params_digest(params: Mapping[str, Tensor]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of a parameter set (order-independent)."""
    h = hashlib.sha256()
    for name in sorted(params):
        t = params[name]
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(_tensor_bytes(t))
    return h.hexdigest()
