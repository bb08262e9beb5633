import json

import pytest
import yaml
from typer.testing import CliRunner

from photonic_dat.cli.main import app
from tests.experiments.conftest import tiny_spec

runner = CliRunner()


@pytest.fixture
def write_spec(tmp_path):
    def write(spec):
        path = tmp_path / "spec.yaml"
        path.write_text(yaml.safe_dump(spec))
        return path

    return write


def test_sweep_runs_reports_and_shows_status(tmp_path, write_spec):
    path = write_spec(tiny_spec(seeds=[0], methods=["pat"], exclude=[]))
    out = tmp_path / "sw"
    dry = runner.invoke(app, ["sweep", str(path), "--out", str(out), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 runs, 2 to run" in dry.output and not out.exists()
    run = runner.invoke(app, ["sweep", str(path), "--out", str(out), "--executor", "inline"])
    assert run.exit_code == 0, run.output
    assert (out / "report.md").is_file() and len(
        json.loads((out / "summary.json").read_text())
    ) == 2
    status = runner.invoke(app, ["sweep", "status", str(out)])
    assert status.exit_code == 0 and status.output.splitlines()[1].split()[:2] == ["pat", "2"]
    again = runner.invoke(app, ["sweep", str(out), "--dry-run"])  # a directory continues
    assert "2 runs, 0 to run" in again.output
    assert runner.invoke(app, ["sweep", "report", str(out)]).exit_code == 0


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["sweep", "status"], "needs the sweep directory"),
        (["sweep", "no-such-spec.yaml"], "not found"),
        (["sweep", "report", "."], "not a sweep directory"),
        (["sweep", "SPEC", "--set", "errors.seed=3"], "pick some of its values with --only"),
        (["sweep", "SPEC", "--only", "errors.seed=9"], "no run of the sweep matches"),
        (["sweep", "SPEC", "--executor", "cloud"], "unknown executor"),
    ],
)
def test_bad_sweep_input_exits_2_with_message(args, fragment, write_spec, tmp_path):
    path = write_spec(tiny_spec())
    args = [str(path) if a == "SPEC" else a for a in args]
    if str(path) in args:
        args += ["--out", str(tmp_path / "x")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output
