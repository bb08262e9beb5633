"""Bad and unauthenticated requests are refused, logged, never reach the device, and the
server keeps serving."""

import json
import logging

import pytest
import torch
import zmq

from photonic_dat.config.factory import build_experiment, build_pnn
from photonic_dat.systems import wire
from photonic_dat.systems.frames import input_ids
from photonic_dat.systems.keys import load_key
from tests.helpers import small_config
from tests.systems.serving import make_key, remote_overrides, serving


class RawClient:
    """Speaks the protocol by hand, so that it can send what a real client never would."""

    def __init__(self, address: str, key: bytes) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(address)
        self.key, self.session, self.seq, self.n = key, None, 0, 0

    def send_frames(self, frames) -> dict:
        self.sock.send_multipart(frames)
        assert self.sock.poll(5000), "the server did not answer"
        reply = self.sock.recv_multipart()
        return json.loads(reply[0])  # read without checking the MAC (also for other keys)

    def request(self, op: str, tensors=None, key=None, **header) -> dict:
        self.n += 1
        self.seq += 1
        full = {"op": op, "id": f"raw#{self.n}", "session": self.session, "seq": self.seq}
        full.update(header)
        return self.send_frames(wire.encode(full, tensors or {}, key or self.key))

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


@pytest.fixture
def setup(tmp_path):
    config = small_config()
    key_path = make_key(tmp_path)
    with serving(config, key_path) as server:
        client = RawClient(server.address, load_key(key_path))
        yield config, server, client, key_path
        client.close()


def _hello(client, pnn):
    arch = {
        "params": {n: list(p.shape) for n, p in pnn.optical_parameters().items()},
        "image_shape": [8, 8],
    }
    reply = client.request("hello", client="raw", arch=arch)
    assert reply["ok"], reply
    client.session = reply["session"]


def _measure(client, params, images, rid_taps=(), bad_ids=False, **extra):
    client.n += 1
    client.seq += 1
    rid = f"raw#{client.n}"
    ids = input_ids(rid, images if images.dim() else images[None])
    if bad_ids:
        ids = ids + 1
    tensors = {f"param:{k}": v for k, v in params.items()}
    tensors.update({"images": images, "ids": ids})
    header = {
        "op": "measure",
        "id": rid,
        "session": client.session,
        "seq": client.seq,
        "taps": list(rid_taps),
        "params_digest": wire.params_digest(params),
    }
    header.update(extra)
    return client.send_frames(wire.encode(header, tensors, client.key))


def test_bad_requests_are_refused_and_the_server_keeps_serving(setup, caplog):
    config, server, client, key_path = setup
    pnn = build_pnn(config)
    params = {k: v.detach() for k, v in pnn.optical_parameters().items()}
    images = build_experiment(config).splits.train.images[:6]
    caplog.set_level(logging.WARNING, logger="photonic_dat.systems.server")

    # not signed with the server's key / not even a message
    assert client.request("hello", key=b"x" * 32, client="intruder")["code"] == "unauthenticated"
    assert client.send_frames([b"hello"])["code"] == "malformed"
    assert client.send_frames([b"{not json", b"\0" * 32])["code"] == "unauthenticated"
    # a measurement without a session
    assert _measure(client, params, images)["code"] == "unknown-session"
    _hello(client, pnn)

    nan = {k: v.clone() for k, v in params.items()}
    next(iter(nan.values()))[0] = float("nan")
    wrong_shape = {k: (v[:-1] if i == 0 else v) for i, (k, v) in enumerate(params.items())}
    unknown = {**params, "blocks.9.theta": torch.zeros(3)}
    cases = {
        "NaN parameters": (_measure(client, nan, images), "out-of-range"),
        "wrong parameter shape": (_measure(client, wrong_shape, images), "bad-request"),
        "unknown parameter": (_measure(client, unknown, images), "bad-request"),
        "a tap the device lacks": (_measure(client, params, images, (1,)), "capability"),
        "images of the wrong shape": (_measure(client, params, images[:, :4]), "bad-request"),
        "images outside [0, 1]": (_measure(client, params, images * 3), "out-of-range"),
        "NaN images": (_measure(client, params, images * float("nan")), "out-of-range"),
        "ids that do not match": (_measure(client, params, images, bad_ids=True), "bad-request"),
        "an unknown operation": (client.request("format-disk"), "bad-request"),
        "a replayed sequence number": (
            _measure(client, params, images, seq=1),
            "replayed",
        ),
    }
    for what, (reply, code) in cases.items():
        assert not reply["ok"] and reply["code"] == code, (what, reply)
    oversized = _measure(client, params, torch.zeros(server.max_batch + 1, 8, 8))
    assert oversized["code"] == "out-of-range"
    assert server.device.queries.total == 0  # nothing reached the device
    assert sum("refused" in r.getMessage() for r in caplog.records) >= len(cases) + 5

    good = _measure(client, params, images)
    assert good["ok"] and server.device.queries.total == 6


def test_oversized_messages_are_refused(tmp_path):
    config = small_config()
    key_path = make_key(tmp_path)
    from photonic_dat.config.serving import served_device
    from photonic_dat.systems.server import MeasurementServer

    server = MeasurementServer(
        served_device(config),
        key=load_key(key_path),
        address="tcp://127.0.0.1:*",
        max_request_bytes=4096,
    )
    server.start()
    client = RawClient(server.address, load_key(key_path))
    try:
        reply = client.request("info", tensors={"junk": torch.zeros(2048)})
        assert reply["code"] == "too-large"
        assert client.request("info", client="x")["ok"]  # still serving
    finally:
        client.close()
        server.stop()


def test_a_real_client_works_after_a_raw_one_released(setup):
    config, server, client, key_path = setup
    _hello(client, build_pnn(config))
    assert client.request("release")["ok"]
    exp = build_experiment(small_config(*remote_overrides(server, key_path)))
    x = exp.method.encode(exp.splits.train.images[:3])
    assert exp.system.measure(exp.method.display_params(), x).output.shape == (3, 16)
    exp.system.close()
