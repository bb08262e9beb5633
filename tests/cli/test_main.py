import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from photonic_dat.cli.main import app

runner = CliRunner()
SMALL = [
    "--set",
    "mpnn.ports=16",
    "--set",
    "mpnn.meshes=2",
    "--set",
    "train.epochs=1",
    "--set",
    "data.train_samples=200",
    "--set",
    "data.test_samples=100",
    "--set",
    "data.val_samples=50",
    "--set",
    "dat.sepn.features=[4,8]",
    "--set",
    "train.progress=false",
    # a noiseless detector: `evaluate` must then reproduce the saved figures exactly (the
    # preset's photodiodes draw fresh noise at every measurement)
    "--set",
    "system.detector.model=ideal",
]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "--set", "errors.bs_std=-1"], "errors.bs_std"),
        (["train", "--set", "method=foo"], "method"),
        (["train", "--set", "nonsense"], "KEY=VALUE"),
        (["train", "no-such-config.yaml"], "not found"),
        (["compare", "--methods", "dat,magic"], "magic"),
        (["evaluate", "/nonexistent/run"], "not a run directory"),
        (["train", "--set", "data.name=mnist", "--set", "data.root=/nonexistent"], "nonexistent"),
    ],
)
def test_bad_input_exits_2_with_message(args, fragment):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output


def test_separable_without_block_access_is_a_clear_error(tmp_path):
    result = runner.invoke(
        app,
        [
            "train",
            *SMALL,
            "--set",
            "dat.internal_states=separable",
            "--set",
            "system.block_access=false",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 2
    assert "block-level access" in result.output


def test_train_then_evaluate_reproduces_the_result(tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", *SMALL, "--out", str(run)])
    assert result.exit_code == 0, result.output
    for name in (
        "config.yaml",
        "metrics.jsonl",
        "model.safetensors",
        "result.json",
        "curves.png",
        "confusion.png",
        "system/errors.safetensors",
    ):
        assert (run / name).is_file(), name
    saved = json.loads((run / "result.json").read_text())
    for key in (
        "test_accuracy_physical",
        "test_accuracy_twin",
        "val_accuracy_physical",
        "physical_queries",
        "train_seconds",
        "method",
        "internal_states",
        "model",
        "dataset",
    ):
        assert key in saved
    assert 0 <= saved["test_accuracy_physical"] <= 1
    line = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert {
        "epoch",
        "seconds",
        "train_samples",
        "task_loss",
        "similarity_loss",
        "physical_queries",
    } <= set(line)
    result = runner.invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 0, result.output
    again = json.loads((run / "evaluation.json").read_text())
    assert again["test_accuracy_physical"] == pytest.approx(saved["test_accuracy_physical"])
    assert again["test_accuracy_twin"] == pytest.approx(saved["test_accuracy_twin"])


def test_compare_writes_one_run_per_method_and_a_summary(tmp_path):
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", *SMALL, "--methods", "insilico,pat", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "insilico" / "result.json").is_file() and (out / "pat" / "result.json").is_file()
    rows = json.loads((out / "summary.json").read_text())
    assert [r["method"] for r in rows] == ["insilico", "pat"]
    assert "test acc (physical)" in result.output
    assert (out / "summary.csv").read_text().startswith("label,")


def test_console_script_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "photonic_dat.cli.main", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert "compare" in proc.stdout


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("trained") / "run"
    result = runner.invoke(app, ["train", *SMALL, "--out", str(run)])
    assert result.exit_code == 0, result.output
    return run


@pytest.mark.parametrize(
    "name, damage",
    [
        ("model.safetensors", lambda b: b[: len(b) // 2]),
        ("model.safetensors", lambda b: b[:-1] + bytes([b[-1] ^ 1])),
        ("system/errors.json", lambda b: b.replace(b"{", b"[", 1)),
        ("system/errors.safetensors", lambda b: b[:10]),
        ("config.yaml", lambda b: b.replace(b"epochs: 1", b"epochs: 2")),
    ],
)
def test_evaluate_reports_a_damaged_file_in_one_line_naming_it(trained_run, tmp_path, name, damage):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    path = run / name
    path.write_bytes(damage(path.read_bytes()))
    result = runner.invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and name.split("/")[-1] in lines[0] and "damaged" in lines[0]
    assert "Traceback" not in result.output


def test_train_resume_takes_only_a_run_directory(trained_run, tmp_path):
    result = runner.invoke(app, ["train", "--resume", str(trained_run), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--resume" in result.output
    result = runner.invoke(app, ["train", "--resume", str(trained_run), "--set", "seed=1"])
    assert result.exit_code == 2 and "seed: 0 != 1" in result.output
    result = runner.invoke(app, ["train", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and "not a run directory" in result.output
    finished = json.loads((trained_run / "result.json").read_text())
    result = runner.invoke(app, ["train", "--resume", str(trained_run)])
    assert result.exit_code == 0, result.output
    assert f"{finished['test_accuracy_physical']:.4f}" in result.output


def test_compare_continues_in_its_output_directory(tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", *SMALL, "--methods", "insilico,pat", "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    first = json.loads((out / "summary.json").read_text())
    (out / "pat" / "result.json").unlink()  # as if killed after its last checkpoint
    stamp = (out / "insilico" / "result.json").stat().st_mtime_ns
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "insilico" / "result.json").stat().st_mtime_ns == stamp  # reused
    again = json.loads((out / "summary.json").read_text())
    for a, b in zip(first, again, strict=True):
        assert a["test_accuracy_physical"] == b["test_accuracy_physical"]
    changed = runner.invoke(app, [*args, "--set", "train.lr=0.5"])
    assert changed.exit_code == 2 and "train.lr" in changed.output


def test_version_and_python_dash_m():
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"photonic-dat {version('photonic-dat')}"
    proc = subprocess.run(
        [sys.executable, "-m", "photonic_dat", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "calibrate" in proc.stdout


def test_runtime_failure_exits_1(tmp_path):
    """A corrupt file on disk is a runtime failure (exit 1), not a usage error (exit 2)."""
    from photonic_dat.config.factory import build_pnn, draw_errors
    from photonic_dat.config.loading import dump_config
    from tests.helpers import small_config

    cfg = small_config()
    (tmp_path / "config.yaml").write_text(dump_config(cfg))
    draw_errors(cfg, build_pnn(cfg)).save(tmp_path / "system")
    meta = tmp_path / "system" / "errors.json"
    meta.write_text(meta.read_text().replace('"digest": "', '"digest": "0'))
    result = runner.invoke(app, ["evaluate", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "digest" in result.output


@pytest.mark.parametrize("bug", [ZeroDivisionError("oops"), ValueError("internal")])
def test_internal_bug_is_not_hidden_as_a_usage_error(monkeypatch, bug):
    def broken(*args, **kwargs):
        raise bug

    monkeypatch.setattr("photonic_dat.training.run.train_run", broken)
    result = runner.invoke(app, ["train", *SMALL])
    assert result.exception is bug  # propagates with its traceback
    assert result.exit_code != 2
