"""The measurement server: a physical system served over ZeroMQ to one trainer at a time.

The server runs next to the hardware (or the simulated device) and owns everything on the
device side: the digital input encoding (raw images arrive, the device's encoder turns them
into fields), parameter uploads, and the device's own conversions and errors. A trainer
reaches it through :class:`photonic_dat.systems.remote.RemoteSystem`.

Every message is authenticated (:mod:`photonic_dat.systems.wire`); a request that is
malformed, oversized or out of range (NaN parameters, wrong shapes, a tap the device lacks,
images outside [0, 1]) gets an error reply and a log line and never reaches the device, and
nothing a client sends stops the server. One client holds the device at a time through a
lease that expires ``lease_s`` seconds after its last message. Replies are cached by request
id, so that a retried request is neither measured nor counted twice.

Operations (header ``op``): ``hello`` (take the lease, exchange protocol version,
capabilities, timings, device identity and calibration digests), ``info`` (the same without
the lease), ``measure``, ``measure_block``, ``stats`` and ``release``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import zmq
from torch import Tensor

from photonic_dat.exceptions import CapabilityError, PhotonicDATError
from photonic_dat.models.pnn import PNN
from photonic_dat.systems import wire
from photonic_dat.systems.base import OUTPUT_PLANE, PhysicalSystem, block_plane, tap_plane
from photonic_dat.systems.faults import FRAME_FAULTS, FaultPlan, apply_frame_fault
from photonic_dat.systems.frames import input_ids, sentinel_image
from photonic_dat.systems.wrappers import describe_chain

__all__ = ["MeasurementServer", "ServedDevice", "device_identity"]

log = logging.getLogger(__name__)

DEFAULT_ADDRESS = "tcp://127.0.0.1:5555"
#: a saturated frame's level when neither the device nor the fault plan names a full scale
FAULT_FULL_SCALE = 1e6


class RequestError(Exception):
    """A request refused before it reaches the device; ``code`` goes into the error reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class ServedDevice:
    """What a server serves.

    Attributes:
        make: builds the physical system (called again when the server restarts).
        twin: the PNN architecture the device implements: its encoder turns raw images into
            input fields on the device side; its optical parameter names and shapes are the
            only parameters accepted.
        image_shape: the shape of one raw input image.
    """

    make: Callable[[], PhysicalSystem]
    twin: PNN
    image_shape: tuple[int, ...]


def device_identity(device: PhysicalSystem) -> dict[str, Any]:
    """What identifies a device: its classes, its own description and the SHA-256 of every
    calibration file it records (``save_device``), with one digest over all of it."""
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        device.save_device(tmp)
        for path in sorted(Path(tmp).rglob("*")):
            if path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                files[str(path.relative_to(tmp))] = f"sha256:{digest}"
    describe = getattr(device, "describe", None)
    identity: dict[str, Any] = {
        "system": describe_chain(device),
        "description": describe() if callable(describe) else {},
        "calibration_files": files,
    }
    text = json.dumps(identity, sort_keys=True, default=str)
    identity["digest"] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return identity


@dataclass
class _Session:
    token: str
    client: str
    last_seen: float
    last_seq: int = 0
    params: dict[str, Tensor] | None = None
    params_digest: str | None = None
    cached: tuple[str, dict[str, Any], dict[str, Tensor]] | None = None


@dataclass
class ServerStats:
    """Device busy time and request counts since the server started."""

    started: float = field(default_factory=time.monotonic)
    first_measure: float | None = None
    last_measure_end: float | None = None
    busy_s: float = 0.0
    measures: int = 0
    cache_hits: int = 0
    refused: int = 0
    restarts: int = 0
    device_frames: int = 0

    def as_dict(self) -> dict[str, Any]:
        span = (
            self.last_measure_end - self.first_measure
            if self.first_measure is not None and self.last_measure_end is not None
            else 0.0
        )
        return {
            "busy_s": self.busy_s,
            "span_s": span,
            "busy_share": self.busy_s / span if span > 0 else None,
            "measures": self.measures,
            "cache_hits": self.cache_hits,
            "refused": self.refused,
            "restarts": self.restarts,
            "device_frames": self.device_frames,
        }


def _float(header: dict, key: str, default: float | None = None) -> float:
    value = header.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RequestError("bad-request", f"{key} must be a finite number")
    return float(value)


def _string(header: dict, key: str, max_len: int = 200) -> str:
    value = header.get(key)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise RequestError("bad-request", f"{key} must be a non-empty string")
    return value


def _int(header: dict, key: str) -> int:
    value = header.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError("bad-request", f"{key} must be an integer")
    return value


class MeasurementServer:
    """Serves one :class:`ServedDevice` on ``address`` (``tcp://HOST:PORT``; port ``*`` picks
    a free one). See the module docstring for what it accepts and refuses."""

    def __init__(
        self,
        served: ServedDevice,
        *,
        key: bytes,
        address: str = DEFAULT_ADDRESS,
        lease_s: float = 60.0,
        max_request_bytes: int = 256 << 20,
        max_batch: int = 65536,
        faults: FaultPlan | None = None,
    ) -> None:
        self.served = served
        self.key = key
        self.requested_address = address
        self.lease_s = lease_s
        self.max_request_bytes = max_request_bytes
        self.max_batch = max_batch
        self.faults = faults or FaultPlan()
        self.stats = ServerStats()
        self.address: str | None = None
        self._ctx = zmq.Context()
        self._socket: zmq.Socket | None = None
        self._ordinal = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._param_specs = {
            name: (tuple(p.shape), p.dtype) for name, p in served.twin.optical_parameters().items()
        }
        self._block_inputs = self._block_input_shapes()
        self._start_device()

    # -- device state -------------------------------------------------------------------------
    def _block_input_shapes(self) -> list[tuple[tuple[int, ...], bool]]:
        """(shape, complex?) of one sample's state entering each block (the twin's probe)."""
        twin = self.served.twin
        with torch.no_grad():
            first = twin.encoder(sentinel_image(self.served.image_shape)[None])
        states = twin.probe(first)
        inputs = [first] + [states[k] for k in range(len(twin.blocks) - 1)]
        return [(tuple(t.shape[1:]), t.is_complex()) for t in inputs]

    def _start_device(self) -> None:
        self.device = self.served.make()
        self.identity = device_identity(self.device)
        self._sessions: dict[str, _Session] = {}
        self._lease: _Session | None = None
        self._previous_frames: tuple[dict[str, Tensor], Tensor] | None = None
        log.info("device ready: %s (%s)", self.identity["system"], self.identity["digest"])

    @property
    def full_scale(self) -> float | None:
        if self.device.full_scale is not None:
            return float(self.device.full_scale)
        if any(k == "saturate-frame" for ev in self.faults.events.values() for k in ev):
            return FAULT_FULL_SCALE
        return None

    def info(self) -> dict[str, Any]:
        caps = self.device.capabilities
        return {
            "protocol": wire.PROTOCOL_VERSION,
            "capabilities": {
                "internal_taps": list(caps.internal_taps),
                "block_access": caps.block_access,
            },
            "timings": self.device.timings.as_dict(),
            "full_scale": self.full_scale,
            "identity": self.identity,
            "image_shape": list(self.served.image_shape),
            "input_shape": list(self._block_inputs[0][0]),
            "limits": {
                "max_request_bytes": self.max_request_bytes,
                "max_batch": self.max_batch,
                "lease_s": self.lease_s,
            },
        }

    # -- socket -------------------------------------------------------------------------------
    def bind(self) -> str:
        """Bind the socket; returns the address bound (with the port actually chosen)."""
        if self._socket is not None:
            return self.address or ""
        host = self.requested_address.split("://", 1)[-1].rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost", "[::1]"):
            log.warning("listening on %s: reachable from other machines", self.requested_address)
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        # a hard ceiling: zmq drops a connection that sends more (above the checked limit)
        sock.setsockopt(zmq.MAXMSGSIZE, 2 * self.max_request_bytes + (1 << 20))
        address = self.address or self.requested_address
        for attempt in range(50):
            try:
                sock.bind(address)
                break
            except zmq.ZMQError:
                if attempt == 49 or self.address is None:
                    sock.close()
                    raise
                time.sleep(0.05)  # restarting: the port is being released
        self._socket = sock
        self.address = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        log.info("serving on %s", self.address)
        return self.address

    def _restart(self) -> None:
        """Lose every session, the reply cache and the device state; bind again."""
        log.warning("restarting (injected fault): sessions, cache and device state are lost")
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        self.stats.restarts += 1
        self._start_device()
        self.bind()

    def serve_forever(self, poll_ms: int = 50) -> None:
        """Answer requests until :meth:`stop` is called (or Ctrl-C)."""
        self.bind()
        try:
            while not self._stop.is_set():
                assert self._socket is not None
                if not self._socket.poll(poll_ms):
                    continue
                frames = self._socket.recv_multipart()
                self._handle(frames[0], frames[1:])
        finally:
            if self._socket is not None:
                self._socket.close(linger=0)
                self._socket = None

    def start(self) -> str:
        """Serve in a background thread; returns the bound address."""
        address = self.bind()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="pdat-serve")
        self._thread.start()
        return address

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._ctx.term()

    # -- messages -----------------------------------------------------------------------------
    def _send(self, route: bytes, header: dict[str, Any], tensors: dict[str, Tensor]) -> None:
        if self._socket is None:
            return
        try:
            self._socket.send_multipart([route, *wire.encode(header, tensors, self.key)])
        except zmq.ZMQError as exc:  # the client went away
            log.warning("reply to a client that left: %s", exc)

    def _refuse(self, route: bytes, rid: Any, code: str, message: str, client: str) -> None:
        self.stats.refused += 1
        log.warning("refused a request from %s (%s): %s", client, code, message)
        rid = rid if isinstance(rid, str) and len(rid) <= 200 else None
        self._send(route, {"ok": False, "id": rid, "code": code, "error": message}, {})

    def _handle(self, route: bytes, frames: list[bytes]) -> None:
        client = f"connection {route.hex()[:8]}"
        try:
            msg = wire.decode(frames, self.key, self.max_request_bytes)
        except wire.WireError as exc:
            self._refuse(route, None, exc.code, str(exc), client)
            return
        header = msg.header
        rid = header.get("id")
        op = header.get("op")
        try:
            rid = _string(header, "id")
            if op in ("hello", "info"):
                reply, tensors = self._hello(msg, take_lease=op == "hello")
            elif op in ("measure", "measure_block", "stats", "release"):
                session = self._session(header)
                client = session.client
                if op == "stats":
                    reply, tensors = {"stats": self.stats_dict()}, {}
                elif op == "release":
                    self._release(session)
                    reply, tensors = {}, {}
                else:
                    self._measure_request(route, session, rid, msg)
                    return
            else:
                raise RequestError("bad-request", f"unknown operation {op!r}")
        except RequestError as exc:
            self._refuse(route, rid, exc.code, str(exc), client)
            return
        except Exception as exc:  # never let one request take the server down
            log.exception("request %r failed", rid)
            self._refuse(route, rid, "server-error", f"{type(exc).__name__}: {exc}", client)
            return
        self._send(route, {"ok": True, "id": rid, **reply}, tensors)

    # -- sessions and the lease ---------------------------------------------------------------
    def _lease_holder(self) -> _Session | None:
        lease = self._lease
        if lease is not None and time.monotonic() - lease.last_seen > self.lease_s:
            log.info("lease of %s expired", lease.client)
            self._sessions.pop(lease.token, None)
            self._lease = None
        return self._lease

    def _hello(self, msg: wire.Message, take_lease: bool):
        header = msg.header
        client = _string(header, "client")
        if take_lease or header.get("arch") is not None:
            self._check_architecture(header.get("arch"))
        tensors: dict[str, Tensor] = {}
        probe = msg.tensors.get("probe")
        if probe is not None:
            images = self._images(probe[None])
            with torch.no_grad():
                tensors["probe_field"] = self.served.twin.encoder(images)
        reply: dict[str, Any] = {"info": self.info()}
        if take_lease:
            holder = self._lease_holder()
            if holder is not None:
                left = self.lease_s - (time.monotonic() - holder.last_seen)
                raise RequestError(
                    "busy",
                    f"the device is leased to {holder.client} (expires in {left:.0f} s unless "
                    "it sends another request)",
                )
            session = _Session(secrets.token_hex(16), client, time.monotonic())
            self._sessions[session.token] = session
            self._lease = session
            reply["session"] = session.token
            log.info("lease granted to %s", client)
        return reply, tensors

    def _check_architecture(self, arch: Any) -> None:
        if not isinstance(arch, dict) or not isinstance(arch.get("params"), dict):
            raise RequestError("bad-request", "hello must describe the client's architecture")
        theirs = arch["params"]
        ours = {name: list(shape) for name, (shape, _) in self._param_specs.items()}
        if theirs != ours:
            diff = sorted(set(theirs) ^ set(ours)) or [n for n in ours if theirs.get(n) != ours[n]]
            raise RequestError(
                "incompatible",
                f"the trainer's PNN differs from the served device's (parameters {diff[:4]}); "
                "serve the same model configuration the trainer uses",
            )
        if list(arch.get("image_shape", [])) != list(self.served.image_shape):
            raise RequestError(
                "incompatible",
                f"the trainer's images are {arch.get('image_shape')}, the device takes "
                f"{list(self.served.image_shape)}",
            )

    def _session(self, header: dict) -> _Session:
        token = header.get("session")
        session = self._sessions.get(token) if isinstance(token, str) else None
        if session is None:
            raise RequestError("unknown-session", "no such session (server restarted?): hello")
        holder = self._lease_holder()
        if holder is not session:
            raise RequestError("lease-lost", "this session's lease expired: hello again")
        seq = _int(header, "seq")
        if seq <= session.last_seq:
            raise RequestError("replayed", f"message sequence {seq} was already used")
        session.last_seq = seq
        session.last_seen = time.monotonic()
        return session

    def _release(self, session: _Session) -> None:
        self._sessions.pop(session.token, None)
        if self._lease is session:
            self._lease = None
        log.info("lease released by %s", session.client)

    def stats_dict(self) -> dict[str, Any]:
        return {**self.stats.as_dict(), "device_queries": self.device.queries.as_dict()}

    # -- validation ---------------------------------------------------------------------------
    def _params(self, session: _Session, header: dict, tensors: dict[str, Tensor]):
        digest = _string(header, "params_digest", 100)
        sent = {k.removeprefix("param:"): v for k, v in tensors.items() if k.startswith("param:")}
        if sent:
            if set(sent) != set(self._param_specs):
                missing = sorted(set(self._param_specs) - set(sent))
                unknown = sorted(set(sent) - set(self._param_specs))
                raise RequestError(
                    "bad-request", f"parameters: missing {missing[:4]}, unknown {unknown[:4]}"
                )
            params = {}
            for name, value in sent.items():
                shape, dtype = self._param_specs[name]
                if tuple(value.shape) != shape:
                    raise RequestError(
                        "bad-request",
                        f"parameter {name}: shape {list(value.shape)}, not {list(shape)}",
                    )
                if value.dtype not in (torch.float32, torch.float64):
                    raise RequestError("bad-request", f"parameter {name}: dtype {value.dtype}")
                if not torch.isfinite(value).all():
                    raise RequestError("out-of-range", f"parameter {name}: NaN or infinite values")
                params[name] = value.to(dtype)
            if wire.params_digest(params) != digest:
                raise RequestError("bad-request", "parameters do not match their digest")
            session.params, session.params_digest = params, digest
        if session.params is None or session.params_digest != digest:
            raise RequestError("unknown-params", "parameters not uploaded (send them again)")
        return session.params

    def _states(self, tensors: dict[str, Tensor], block: int) -> Tensor:
        """The input states sent to drive ``block`` (the whole system from block 0)."""
        shape, is_complex = self._block_inputs[block]
        rows = self._rows(tensors, shape, "fields")
        if rows.is_complex() != is_complex or rows.dtype in (torch.int64, torch.uint8):
            kind = "complex fields" if is_complex else "real floating-point states"
            raise RequestError("bad-request", f"block {block} takes {kind}, got {rows.dtype}")
        return rows

    def _rows(self, tensors: dict[str, Tensor], expected: tuple[int, ...], kind: str) -> Tensor:
        rows = tensors.get(kind)
        if rows is None:
            raise RequestError("bad-request", f"no {kind} sent")
        if rows.dim() == 0 or not 1 <= rows.shape[0] <= self.max_batch:
            raise RequestError(
                "out-of-range",
                f"batch of {rows.shape[0] if rows.dim() else 0} rows (1 to "
                f"{self.max_batch} accepted)",
            )
        if tuple(rows.shape[1:]) != tuple(expected):
            raise RequestError(
                "bad-request",
                f"{kind} of shape {list(rows.shape[1:])}, the device takes {list(expected)}",
            )
        if not torch.isfinite(rows).all():
            raise RequestError("out-of-range", f"{kind} with NaN or infinite values")
        return rows

    def _images(self, images: Tensor) -> Tensor:
        if images.dtype not in (torch.float32, torch.float64):
            raise RequestError("bad-request", f"images of dtype {images.dtype}")
        images = self._rows({"images": images}, self.served.image_shape, "images")
        if images.min() < 0 or images.max() > 1:
            raise RequestError("out-of-range", "image values outside [0, 1]")
        return images

    # -- measurements -------------------------------------------------------------------------
    def _measure_request(self, route: bytes, session: _Session, rid: str, msg: wire.Message):
        header, tensors = msg.header, msg.tensors
        self._ordinal += 1
        faults = self.faults.at(self._ordinal)
        if session.cached is not None and session.cached[0] == rid:
            self.stats.cache_hits += 1
            log.info("request %s answered again from the cache (not measured twice)", rid)
            _, reply, out = session.cached
        else:
            reply, out = self._measure(session, rid, header, tensors, faults)
            session.cached = (rid, reply, out)
        session.last_seen = time.monotonic()  # a long measurement does not eat the lease
        if "delay" in faults:
            time.sleep(float(faults["delay"] or 0))
        if "restart" in faults:
            self._restart()
            return
        if "drop-reply" in faults:
            log.warning("request %s: reply dropped (injected fault)", rid)
            return
        self._send(route, {"ok": True, "id": rid, **reply}, out)

    def _measure(self, session, rid, header, tensors, faults):
        op = header["op"]
        params = self._params(session, header, tensors)
        if op == "measure":
            taps = header.get("taps", [])
            if not isinstance(taps, list) or not all(
                isinstance(k, int) and not isinstance(k, bool) for k in taps
            ):
                raise RequestError("bad-request", "taps must be a list of block indices")
            if len(set(taps)) != len(taps):
                raise RequestError("bad-request", f"taps {taps} repeat a block")
            offered = self.device.capabilities.internal_taps
            if set(taps) - set(offered):
                raise RequestError(
                    "capability",
                    f"this device cannot measure internal states after blocks "
                    f"{sorted(set(taps) - set(offered))}; it offers taps {list(offered)}",
                )
            rows = self._images(tensors["images"]) if "images" in tensors else None
            rows = rows if rows is not None else self._states(tensors, 0)
        elif op == "measure_block":
            block = _int(header, "block")
            if not 0 <= block < len(self._block_inputs):
                raise RequestError("out-of-range", f"block {block} does not exist")
            if not self.device.capabilities.block_access:
                raise RequestError("capability", "this device has no block-level access")
            rows = self._states(tensors, block)
        else:  # pragma: no cover - dispatch only sends these two
            raise RequestError("bad-request", f"unknown operation {op!r}")
        ids = tensors.get("ids")
        if ids is None or ids.dtype != torch.int64 or not torch.equal(ids, input_ids(rid, rows)):
            raise RequestError("bad-request", "input ids do not match the inputs sent")

        frames_before = self.device.queries.total_frames
        start = time.perf_counter()
        if self.stats.first_measure is None:
            self.stats.first_measure = time.monotonic()
        try:
            with torch.no_grad():
                if op == "measure":
                    fields = self.served.twin.encoder(rows) if "images" in tensors else rows
                    m = self.device.measure(params, fields, tuple(taps))
                    frames = {OUTPUT_PLANE: m.output, **{tap_plane(k): m.taps[k] for k in taps}}
                else:
                    out = self.device.measure_block(block, params, rows)
                    frames = {block_plane(block): out}
        except CapabilityError as exc:
            raise RequestError("capability", str(exc)) from None
        except PhotonicDATError as exc:
            raise RequestError("device-error", str(exc)) from None
        elapsed = time.perf_counter() - start
        self.stats.busy_s += elapsed
        self.stats.measures += 1
        self.stats.last_measure_end = time.monotonic()
        # what the device spent, including its own frames (dark frames, re-exposures)
        device_frames = self.device.queries.total_frames - frames_before
        self.stats.device_frames += device_frames
        frames = {p: f.detach().to("cpu").contiguous() for p, f in frames.items()}
        for p, f in frames.items():
            if f.shape[0] != rows.shape[0]:
                log.error("device returned %d frames for %d inputs at %s", f.shape[0], len(rows), p)
        sent_frames, sent_ids = frames, ids
        for kind in FRAME_FAULTS:
            if kind in faults:
                log.warning("request %s: injecting %s", rid, kind)
                sent_frames, sent_ids = apply_frame_fault(
                    kind, sent_frames, sent_ids, self._previous_frames, self.full_scale or 1.0
                )
        self._previous_frames = (frames, ids)
        reply = {"device_s": elapsed, "device_frames": device_frames}
        out = {f"frame:{p}": f for p, f in sent_frames.items()}
        out["ids"] = sent_ids
        return reply, out
