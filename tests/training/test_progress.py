import pytest

from photonic_dat.config.factory import build_experiment
from photonic_dat.exceptions import ConfigError
from photonic_dat.training.loop import fit
from photonic_dat.training.progress import ProgressBar, TensorBoardLog
from photonic_dat.training.run import train_run
from tests.helpers import small_config


def test_the_bar_counts_batches_of_the_whole_run_and_shows_frames(monkeypatch):
    bars = []

    class Recording(ProgressBar):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

        def close(self):
            fields = dict(item.split("=", 1) for item in self.bar.postfix.split(", "))
            self.final = (self.bar.n, self.bar.total, fields)
            super().close()

    monkeypatch.setattr("photonic_dat.training.loop.ProgressBar", Recording)
    exp = build_experiment(small_config("method=pat", "train.progress=true"))
    out = fit(exp)
    n, total, postfix = bars[0].final
    assert n == total == 2 * 8  # 2 epochs of 8 batches
    after_last_batch = out.history[-1]["physical_frames"] - len(exp.splits.val)
    assert postfix["frames"] == f"{after_last_batch:,}"
    assert float(postfix["fps"]) > 0 and postfix["epoch"] == "2"
    assert postfix["val"] == f"{out.history[0]['val_accuracy_physical']:.3f}"  # last epoch's


def test_tensorboard_receives_batch_and_epoch_scalars_and_a_resume_purges_the_cut_part(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = small_config("method=dat", "train.tensorboard=true")
    train_run(cfg, tmp_path / "r")
    events = EventAccumulator(str(tmp_path / "r" / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"batch/task_loss", "batch/similarity_loss", "device/frames"} <= tags
    assert {"epoch/val_accuracy_physical", "epoch/physical_frames"} <= tags
    assert [e.step for e in events.Scalars("batch/task_loss")] == list(range(1, 17))
    assert [e.step for e in events.Scalars("epoch/val_accuracy_physical")] == [8, 16]
    log = TensorBoardLog(tmp_path / "r" / "tensorboard", resume_step=8)  # resumed at step 8
    log.batch(9, {"task_loss": 5.0}, 1, 0)
    log.close()
    events = EventAccumulator(str(tmp_path / "r" / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("batch/task_loss")][-2:] == [8, 9]


def test_tensorboard_without_the_package_is_a_clear_configuration_error(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "torch.utils.tensorboard", None)
    with pytest.raises(ConfigError, match=r"photonic-dat\[tensorboard\]"):
        TensorBoardLog(tmp_path)
