import itertools
import math

from matplotlib.backends.backend_agg import FigureCanvasAgg

from photonic_dat.report.plots import plot_training_curves, training_curves_figure


def _history(similarity: bool):
    rows = []
    for e in range(1, 11):
        row = {
            "epoch": e,
            "task_loss": 2 / e,
            "train_accuracy_twin": 1 - 1 / (e + 1),
            "train_accuracy_physical": 0.9 - 1 / (e + 2),
            "val_accuracy_physical": 0.85 - 1 / (e + 3),
        }
        if similarity:
            row["similarity_loss"] = 0.1 * math.exp(-e)
        rows.append(row)
    return rows


def test_curve_panels_with_their_labels_and_ticks_do_not_overlap():
    for similarity in (True, False):
        fig = training_curves_figure(_history(similarity), "dat on digits")
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
        assert len(boxes) == (3 if similarity else 2)
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b)
        if similarity:  # the similarity loss has its own log axis, not a twin of the loss
            assert fig.axes[1].get_yscale() == "log" and fig.axes[0].get_yscale() == "linear"


def test_curves_are_written_as_png(tmp_path):
    plot_training_curves(_history(True), tmp_path / "curves.png", "t")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
