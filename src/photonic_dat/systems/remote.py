"""A physical system on another machine, reached through a measurement server.

:class:`RemoteSystem` has the :class:`PhysicalSystem` interface, so every method trains
through it unchanged. What it adds, so that a frame is only used when it can be trusted:

* raw images travel instead of encoded fields (the server encodes them with the same
  deterministic encoder; at connect a probe image checks that both ends encode alike);
  parameters travel only when they change (identified by their SHA-256);
* every request has an id; a request that times out is sent again with the same id, and the
  server answers a repeated id from its cache, so a retry is neither measured nor counted
  twice; after a server restart the client connects again, checks that the device is the same
  one (identity and calibration digests) and sends the request again;
* every input row carries an id and sentinels are interleaved
  (:mod:`photonic_dat.systems.frames`): a reply with dropped, duplicated, stale, lagged,
  saturated or non-finite frames is measured again, and after ``frame_retries`` bad replies
  the step fails with :class:`DeviceError`; nothing is trained on silently.

Counting: ``queries`` counts what the trainer asked for, exactly as an in-process system
would; :meth:`report` gives what the device spent beyond it (sentinel frames, measurements
repeated because a frame was bad or the server restarted) and the device's busy time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import torch
import zmq
from torch import Tensor

from photonic_dat.exceptions import CapabilityError, ConfigError, DeviceError
from photonic_dat.io import atomic_write_text
from photonic_dat.models.pnn import PNN
from photonic_dat.systems import wire
from photonic_dat.systems.base import (
    OUTPUT_PLANE,
    Capabilities,
    Measurement,
    PendingMeasurement,
    PhysicalSystem,
    block_plane,
    tap_plane,
)
from photonic_dat.systems.frames import check_frames, input_ids, plan_sentinels, sentinel_image
from photonic_dat.systems.timing import DeviceTimings

__all__ = ["RemoteSystem"]

log = logging.getLogger(__name__)


def _close(ctx: zmq.Context, sock: zmq.Socket, pool: ThreadPoolExecutor) -> None:
    pool.shutdown(wait=True)
    sock.close(linger=0)
    ctx.term()


class RemoteSystem(PhysicalSystem):
    """A client of a measurement server (``photonic-dat serve``).

    Args:
        address: ``tcp://HOST:PORT`` of the server.
        twin: the trainer's PNN (its parameter names and shapes and its encoder are checked
            against the server's at connect).
        key: the shared secret (:func:`photonic_dat.systems.keys.load_key`).
        image_shape: the shape of one raw image.
        timeout_s: seconds to wait for a reply beyond the device time the request needs.
        retries: how many times a request is sent again after a timeout or a reconnect.
        sentinels: sentinel inputs interleaved in every request (0: no lag check).
        sentinel_tolerance: largest relative difference between frames of one sentinel.
        frame_retries: how many times a reply with untrustworthy frames is measured again.
        overlap: measure in the background when a method submits a measurement (:meth:`submit`).
        seed: seeds the sentinel positions.
        internal_taps, block_access: what this trainer may use of what the device offers.
    """

    def __init__(
        self,
        address: str,
        twin: PNN,
        *,
        key: bytes,
        image_shape: tuple[int, ...],
        timeout_s: float = 10.0,
        retries: int = 3,
        sentinels: int = 2,
        sentinel_tolerance: float = 0.05,
        frame_retries: int = 2,
        overlap: bool = True,
        seed: int = 0,
        internal_taps: bool = True,
        block_access: bool = True,
        client_name: str | None = None,
    ) -> None:
        super().__init__(Capabilities())
        self.address = address
        self.key = key
        self.image_shape = tuple(image_shape)
        self.timeout_s = timeout_s
        self.retries = retries
        self.sentinels = sentinels
        self.sentinel_tolerance = sentinel_tolerance
        self.frame_retries = frame_retries
        self.overlap = overlap
        self.client_name = client_name or f"{_user()}@{socket.gethostname()}:{os.getpid()}"
        self._twin = twin
        self._encoder = twin.encoder
        self._arch = {
            "params": {n: list(p.shape) for n, p in twin.optical_parameters().items()},
            "image_shape": list(self.image_shape),
        }
        self._generator = torch.Generator().manual_seed(int(seed))
        self._encoded: dict[int, tuple[weakref.ref, Tensor]] = {}
        self._session: str | None = None
        self._seq = 0
        self._requests = 0
        self._server_digest: str | None = None
        self._stats: dict[str, Any] = {
            "requests": 0,
            "device_frames": 0,
            "device_busy_s": 0.0,
            "sentinel_frames": 0,
            "remeasured": 0,
            "timeouts": 0,
            "reconnects": 0,
            "bad_replies": [],
        }
        self._ctx = zmq.Context()
        self._socket = self._ctx.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.connect(address)
        # one worker: requests stay in order, and only one thread uses the socket at a time
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdat-remote")
        self._finalizer = weakref.finalize(self, _close, self._ctx, self._socket, self._pool)
        try:
            info = self._hello()
        except BaseException:
            self._finalizer()
            raise
        self.connection = {
            "address": address,
            "client": self.client_name,
            "connected_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **info,
        }
        offered = info["capabilities"]
        taps = tuple(k for k in offered["internal_taps"] if k in twin.internal_taps)
        self.capabilities = Capabilities(
            internal_taps=taps if internal_taps else (),
            block_access=bool(offered["block_access"]) and block_access,
        )
        self.timings = DeviceTimings(**info["timings"])
        self.full_scale = info["full_scale"]
        self.identity = info["identity"]

    # -- the trainer's side of PhysicalSystem -------------------------------------------------
    def _generators(self) -> dict[str, torch.Generator]:
        return {"frame-checks": self._generator}  # sentinel positions, resumed with the run

    def register_inputs(self, fields: Tensor, images: Tensor) -> None:
        for key in [k for k, (ref, _) in self._encoded.items() if ref() is None]:
            del self._encoded[key]
        if tuple(images.shape[1:]) == self.image_shape and images.shape[0] == fields.shape[0]:
            self._encoded[id(fields)] = (weakref.ref(fields), images)

    def _images_of(self, fields: Tensor) -> Tensor | None:
        entry = self._encoded.get(id(fields))
        return entry[1] if entry is not None and entry[0]() is fields else None

    def _measure(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: tuple[int, ...]
    ) -> Measurement:
        images = self._images_of(fields)
        rows, kind = (images, "images") if images is not None else (fields, "fields")
        planes = [OUTPUT_PLANE, *(tap_plane(k) for k in taps)]
        frames = self._measure_rows("measure", params, rows, kind, planes, {"taps": list(taps)})
        return Measurement(
            output=frames[OUTPUT_PLANE], taps={k: frames[tap_plane(k)] for k in taps}
        )

    def submit(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: Sequence[int] = ()
    ) -> PendingMeasurement:
        """Measure in a background thread while the trainer computes; ``result()`` waits for
        it (and raises what the measurement raised). Nothing else may use this system before."""
        if not self.overlap:
            return super().submit(params, fields, taps)
        self.check_taps(taps)
        future = self._pool.submit(self.measure, params, fields, taps)
        return PendingMeasurement(future.result)

    def _measure_block(self, index: int, params: Mapping[str, Tensor], fields: Tensor) -> Tensor:
        plane = block_plane(index)
        header = {"block": index}
        return self._measure_rows("measure_block", params, fields, "fields", [plane], header)[plane]

    def save_device(self, directory) -> None:
        """Record the connection: protocol, capabilities, timings, the device's identity and
        its calibration files' digests (``remote.json``)."""
        from pathlib import Path

        path = Path(directory) / "remote.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(self.connection, indent=2, sort_keys=True))

    def report(self) -> dict[str, object]:
        stats = {k: v for k, v in self._stats.items() if k != "bad_replies"}
        return {
            "remote": {
                "address": self.address,
                "device": self.identity.get("system"),
                "identity_digest": self.identity.get("digest"),
                **stats,
                "bad_replies": list(self._stats["bad_replies"][-20:]),
            }
        }

    def server_stats(self) -> dict[str, Any]:
        """The server's counters: device busy time and share, requests, cache hits."""
        return self._call("stats", {}, {}, timeout=self.timeout_s).header["stats"]

    def close(self) -> None:
        """Give the lease back and close the connection."""
        if not self._finalizer.alive:
            return
        if self._session is not None:
            with contextlib.suppress(zmq.ZMQError):
                self._send("release", {}, {}, self._next_id())
            time.sleep(0.05)  # let the release leave before the socket closes
        self._finalizer()

    # -- requests -----------------------------------------------------------------------------
    def _next_id(self) -> str:
        self._requests += 1
        return f"{self.client_name}#{self._requests}"

    def _send(self, op: str, header: dict[str, Any], tensors: dict[str, Tensor], rid: str):
        self._seq += 1
        full = {**header, "op": op, "id": rid, "session": self._session, "seq": self._seq}
        self._socket.send_multipart(wire.encode(full, tensors, self.key))

    def _receive(self, rid: str, timeout: float) -> wire.Message | None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self._socket.poll(int(left * 1000) + 1):
                return None
            frames = self._socket.recv_multipart()
            try:
                msg = wire.decode(frames, self.key, 1 << 62)
            except wire.WireError as exc:
                self._unverified_refusal(frames)
                log.warning("ignored a reply that failed its checks: %s", exc)
                continue
            if msg.header.get("id") == rid:
                return msg
            log.debug("ignored a late reply to %s", msg.header.get("id"))

    def _unverified_refusal(self, frames: list[bytes]) -> None:
        """A server that does not know our key signs its refusal with its own: say so."""
        try:
            header = json.loads(frames[0])
        except (ValueError, IndexError, UnicodeDecodeError):
            return
        if isinstance(header, dict) and header.get("code") == "unauthenticated":
            raise ConfigError(
                f"the measurement server at {self.address} refused our key: use the same key "
                "file on both ends (system.key_file / serve --key-file)"
            )
        if isinstance(header, dict) and header.get("code") == "version":
            raise ConfigError(f"protocol mismatch with {self.address}: {header.get('error')}")

    def _call(
        self,
        op: str,
        header: dict[str, Any],
        tensors: dict[str, Tensor],
        *,
        timeout: float,
        rid: str | None = None,
        params: Mapping[str, Tensor] | None = None,
        digest: str | None = None,
    ) -> wire.Message:
        """Send a request until a reply comes: the same id on every try (idempotent)."""
        rid = rid or self._next_id()
        tries = reconnects = 0
        send_params = params is not None and self._server_digest != digest
        while True:
            body = dict(tensors)
            if send_params and params is not None:
                body.update({f"param:{n}": v.detach().cpu() for n, v in params.items()})
            extra = {"params_digest": digest} if digest is not None else {}
            self._send(op, {**header, **extra}, body, rid)
            reply = self._receive(rid, timeout)
            if reply is None:
                tries += 1
                self._stats["timeouts"] += 1
                if tries > self.retries:
                    hint = " (is `photonic-dat serve` running there?)" if op == "hello" else ""
                    raise DeviceError(
                        f"the measurement server at {self.address} did not answer request "
                        f"{rid} ({op}) after {tries} tries of {timeout:.1f} s{hint}"
                    )
                log.warning("request %s: no reply in %.1f s, sending it again", rid, timeout)
                continue
            h = reply.header
            if h.get("ok"):
                if send_params:
                    self._server_digest = digest
                return reply
            code, error = h.get("code"), h.get("error", "")
            if code in ("unknown-session", "lease-lost") and op != "hello":
                reconnects += 1
                self._stats["reconnects"] += 1
                if reconnects > self.retries:
                    raise DeviceError(f"lost the session with {self.address} again: {error}")
                log.warning("request %s: %s; connecting again", rid, error)
                self._hello(again=True)
                send_params = params is not None
                continue
            if code == "unknown-params" and not send_params and params is not None:
                send_params = True
                continue
            if code == "capability":
                raise CapabilityError(error)
            if code in ("incompatible", "version", "unauthenticated"):
                raise ConfigError(f"measurement server at {self.address}: {error}")
            raise DeviceError(f"measurement server at {self.address} refused {op}: {error}")

    def _hello(self, again: bool = False) -> dict[str, Any]:
        self._session = None
        self._server_digest = None
        probe = sentinel_image(self.image_shape)
        header = {"client": self.client_name, "arch": self._arch}
        reply = self._call("hello", header, {"probe": probe}, timeout=self.timeout_s)
        info = reply.header["info"]
        if info.get("protocol") != wire.PROTOCOL_VERSION:
            raise ConfigError(f"server protocol {info.get('protocol')} differs from ours")
        if again:
            if info["identity"]["digest"] != self.identity["digest"]:
                raise DeviceError(
                    f"after reconnecting, the device at {self.address} is a different one "
                    f"(identity {info['identity']['digest']} != {self.identity['digest']}); "
                    "the run cannot continue on it"
                )
        else:
            with torch.no_grad():
                ours = self._encoder(probe[None])
            theirs = reply.tensors.get("probe_field")
            if (
                theirs is None
                or theirs.shape != ours.shape
                or not torch.allclose(theirs.to(ours.dtype), ours, rtol=1e-4, atol=1e-6)
            ):
                raise ConfigError(
                    f"the server at {self.address} encodes images differently from this "
                    "trainer's twin: serve the same model configuration"
                )
        self._session = reply.header["session"]
        log.info("connected to %s (%s)", self.address, info["identity"]["system"])
        return info

    # -- measurements with checks -------------------------------------------------------------
    def _measure_rows(
        self,
        op: str,
        params: Mapping[str, Tensor],
        rows: Tensor,
        kind: str,
        planes: list[str],
        header: dict[str, Any],
    ) -> dict[str, Tensor]:
        rows = rows.detach().cpu()
        params = {n: v.detach().cpu() for n, v in params.items()}
        digest = wire.params_digest(params)
        sentinel = sentinel_image(tuple(rows.shape[1:]), rows.dtype)
        problem = ""
        for attempt in range(self.frame_retries + 1):
            plan = plan_sentinels(rows.shape[0], self.sentinels, self._generator)
            composite = plan.interleave(rows, sentinel)
            rid = self._next_id()
            ids = input_ids(rid, composite)
            device_s = self.timings.seconds(plan.total * len(planes), 1)
            reply = self._call(
                op,
                header,
                {kind: composite, "ids": ids},
                timeout=self.timeout_s + 2 * device_s,
                rid=rid,
                params=params,
                digest=digest,
            )
            self._stats["requests"] += 1
            self._stats["device_frames"] += int(reply.header.get("device_frames", 0))
            self._stats["device_busy_s"] += float(reply.header.get("device_s", 0.0))
            self._stats["sentinel_frames"] += len(plan.sentinels) * len(planes)
            if attempt:
                self._stats["remeasured"] += 1
            frames = {p: reply.tensors.get(f"frame:{p}") for p in planes}
            absent = [p for p, f in frames.items() if f is None]
            got_ids = reply.tensors.get("ids", torch.empty(0, dtype=torch.int64))
            problem = (
                f"planes {absent} missing from the reply"
                if absent
                else check_frames(
                    frames,  # type: ignore[arg-type]
                    got_ids,
                    ids,
                    plan,
                    tolerance=self.sentinel_tolerance,
                    full_scale=self.full_scale,
                )
            )
            if problem is None:
                keep = plan.items
                return {p: f[keep] for p, f in frames.items()}  # type: ignore[index]
            self._stats["bad_replies"].append({"request": rid, "problem": problem})
            log.warning("request %s: %s; measuring again", rid, problem)
        raise DeviceError(
            f"no trustworthy frames from {self.address} after {self.frame_retries + 1} "
            f"measurements: {problem}"
        )


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # pragma: no cover - no user name in some containers
        return "user"


def remote_info(address: str, key: bytes, timeout_s: float = 5.0) -> dict[str, Any]:
    """What the server at ``address`` declares (capabilities, timings, identity), without
    taking the lease."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(address)
        header = {"op": "info", "id": "info", "client": "info", "arch": None}
        sock.send_multipart(wire.encode(header, {}, key))
        if not sock.poll(int(timeout_s * 1000)):
            raise DeviceError(f"no measurement server answers at {address}")
        msg = wire.decode(sock.recv_multipart(), key, 1 << 30)
    except wire.WireError as exc:
        raise DeviceError(f"reply from {address} failed its checks: {exc}") from None
    finally:
        sock.close(linger=0)
        ctx.term()
    if not msg.header.get("ok"):
        raise DeviceError(f"{address}: {msg.header.get('error')}")
    return msg.header["info"]
