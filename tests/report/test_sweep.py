from photonic_dat.experiments.spec import expand, parse_spec
from photonic_dat.report.sweep import RunRecord, draw_figures, panel_x_values
from tests.experiments.conftest import tiny_spec


def test_zipped_settings_keep_the_spec_order_and_numbers_are_sorted():
    # the paper's table: none, a joint setting, splitters only, phase shifters only
    rows = [(0.0, 0.0), (0.04, 0.04), (0.1, 0.0), (0.0, 0.1), (0.04, 0.04)]
    xs, numeric = panel_x_values(rows, ["errors.bs_std", "errors.ps_std"])
    assert xs == [(0.0, 0.0), (0.04, 0.04), (0.1, 0.0), (0.0, 0.1)] and not numeric
    xs, numeric = panel_x_values([(5,), (1,), (3,), (1,)], ["pnn.layers"])
    assert xs == [(1,), (3,), (5,)] and numeric


def _records(frames_per_epoch: int):
    """Every run of the tiny spec as if finished; PAT read ``frames_per_epoch`` per epoch."""
    records = []
    for plan in expand(parse_spec(tiny_spec())):
        spent = frames_per_epoch if plan.method == "pat" else 0
        history = [
            {"epoch": e, "physical_frames": spent * e, "val_accuracy_physical": 0.5 + 0.1 * e}
            for e in (1, 2)
        ]
        result = {"test_accuracy_physical": 0.7, "val_accuracy_physical": 0.6}
        records.append(RunRecord(plan, "done", result, {}, history))
    return records


def test_the_frames_figure_is_drawn_only_where_a_method_measured_while_training(tmp_path):
    spec = parse_spec(tiny_spec())
    drawn = draw_figures(_records(frames_per_epoch=160), spec, tmp_path / "a")
    assert drawn == ["figures/accuracy_vs_error.png", "figures/accuracy_vs_frames.png"]
    assert all((tmp_path / "a" / f).stat().st_size > 10_000 for f in drawn)
    # direct deployment alone spends no frames: no empty frames figure
    dd_only = [r for r in _records(frames_per_epoch=160) if r.plan.method.startswith("dd")]
    assert draw_figures(dd_only, spec, tmp_path / "b") == ["figures/accuracy_vs_error.png"]
    assert not (tmp_path / "b" / "figures" / "accuracy_vs_frames.png").exists()
