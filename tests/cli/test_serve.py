"""`photonic-dat serve` in its own process and `train` against it, with no key configured:
the per-user key file makes same-user server and client work out of the box."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

from typer.testing import CliRunner

from photonic_dat.cli.main import app

runner = CliRunner()
SMALL = [
    "mpnn.ports=16",
    "mpnn.meshes=2",
    "train.epochs=1",
    "data.train_samples=200",
    "data.test_samples=100",
    "data.val_samples=50",
    "dat.sepn.features=[4,8]",
    "train.progress=false",
    "system.detector.model=ideal",  # deterministic frames: the sentinel check never re-measures
]


def _sets(*items):
    return [arg for item in items for arg in ("--set", item)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_train_through_a_served_device_with_the_default_key(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    address = f"tcp://127.0.0.1:{_free_port()}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "photonic_dat.cli.main",
            "serve",
            *_sets(*SMALL),
            "--listen",
            address,
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")},
    )
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "serving" not in line and time.monotonic() < deadline:
            line = server.stderr.readline()
            assert line or server.poll() is None, "the server exited"
        assert address in line
        key = tmp_path / "config" / "photonic-dat" / "key"
        assert oct(key.stat().st_mode & 0o777) == "0o600"
        remote = ["system.kind=remote", f"system.address={address}"]
        dry = runner.invoke(app, ["train", "--dry-run", *_sets(*SMALL, *remote)])
        assert dry.exit_code == 0, dry.output
        assert "declared by SimulatedSystem" in dry.output
        result = runner.invoke(
            app, ["train", *_sets(*SMALL, *remote), "--out", str(tmp_path / "r")]
        )
        assert result.exit_code == 0, result.output
        record = json.loads((tmp_path / "r" / "result.json").read_text())
        assert record["device_session"]["remote"]["remeasured"] == 0
        assert record["physical_frames"] > 0
        connection = json.loads((tmp_path / "r" / "system" / "remote.json").read_text())
        assert connection["address"] == address and connection["identity"]["calibration_files"]
        evaluated = runner.invoke(app, ["evaluate", str(tmp_path / "r")])
        assert evaluated.exit_code == 0, evaluated.output
        assert (
            json.loads(evaluated.output)["test_accuracy_physical"]
            == (record["test_accuracy_physical"])
        )
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0


def test_serve_refuses_bad_options():
    for args, fragment in [
        (["serve", "--device", "no_such_module:Device"], "cannot import"),
        (["serve", "--device", "nocolon"], "MODULE:NAME"),
        (["serve", "--faults", "explode@1"], "explode"),
        (["serve", "--listen", "tcp://127.0.0.1:notaport"], "cannot listen"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert fragment in result.output


def test_dry_run_prints_device_hours():
    result = runner.invoke(
        app,
        [
            "train",
            "--dry-run",
            *_sets(*SMALL, "system.timings.frame_s=0.01", "system.timings.upload_s=0.02"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "estimated device time" in result.output and "training" in result.output
    total = [ln for ln in result.output.splitlines() if ln.startswith("total")][0]
    # 1 epoch of 200 samples at 2 planes in 7 batches of 32, 50 validation, 50 + 100 final
    # frames at 10 ms; 7 + 1 + 1 uploads at 20 ms
    assert total.split()[1:] == ["600", "6.18"]


def test_no_server_is_one_line_and_exit_status_1(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    address = f"tcp://127.0.0.1:{_free_port()}"
    args = [*SMALL, "system.kind=remote", f"system.address={address}", "system.timeout_s=0.2"]
    out = ["--out", str(tmp_path / "r")]
    result = runner.invoke(app, ["train", *_sets(*args, "system.retries=1"), *out])
    assert result.exit_code == 1, result.output
    assert "did not answer" in result.output and "photonic-dat serve" in result.output
