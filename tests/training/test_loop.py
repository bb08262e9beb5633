import torch

from photonic_dat.config.factory import build_experiment
from photonic_dat.training.loop import fit
from tests.helpers import small_config


def test_same_seed_gives_the_same_numbers():
    cfg = small_config("method=dat", "system.detector.model=camera")
    a, b = fit(build_experiment(cfg)), fit(build_experiment(cfg))

    def timeless(history):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in history]

    assert timeless(a.history) == timeless(b.history)
    for key in a.state:
        assert torch.equal(a.state[key], b.state[key]), key
    assert a.result["test_accuracy_physical"] == b.result["test_accuracy_physical"]


def test_validation_selection_and_query_accounting():
    cfg = small_config("method=pat", "train.epochs=3")
    exp = build_experiment(cfg)
    out = fit(exp)
    vals = [r["val_accuracy_physical"] for r in out.history]
    assert out.best_epoch == 1 + vals.index(max(vals))
    # training queries: every training sample once per epoch + the validation split per epoch
    n_train, n_val = len(exp.splits.train), len(exp.splits.val)
    assert out.result["physical_queries"] == 3 * (n_train + n_val)
    assert out.history[-1]["physical_queries"] == 3 * (n_train + n_val)


def test_insilico_never_queries_the_system_while_training():
    out = fit(build_experiment(small_config("method=insilico")))
    assert out.result["physical_queries"] == 0
    assert all(r["val_accuracy_physical"] is None for r in out.history)


def test_dat_beats_direct_deployment_on_digits_under_errors():
    common = (
        "mpnn.ports=16",
        "mpnn.meshes=2",
        "train.epochs=12",
        "train.batch_size=32",
        "train.lr=0.02",
        "dat.sepn_start_epoch=4",
        "dat.lr=0.01",
        "errors.bs_std=0.1",
        "errors.ps_std=0.1",
        "data.train_samples=null",
        "data.val_samples=null",
        "data.test_samples=null",
    )
    dd = fit(build_experiment(small_config("method=insilico", *common))).result
    dat = fit(build_experiment(small_config("method=dat", *common))).result
    assert dd["test_accuracy_twin"] > 0.88  # the ideal model learned the task
    assert dd["test_accuracy_physical"] < dd["test_accuracy_twin"] - 0.2  # errors hurt it
    assert dat["test_accuracy_physical"] > dd["test_accuracy_physical"] + 0.2
    assert dat["test_accuracy_physical"] > 0.85
