"""Small configurations shared by the tests (fast on two CPU cores)."""

from photonic_dat.config.loading import load_config


def small_config(*overrides: str):
    base = [
        "mpnn.ports=16",
        "mpnn.meshes=2",
        "mpnn.readout_temperature=10",
        "data.train_samples=400",
        "data.val_samples=100",
        "data.test_samples=200",
        "errors.bs_std=0.05",
        "errors.ps_std=0.05",
        "dat.sepn.features=[4, 8]",
        "dat.sepn_start_epoch=0",
        "train.epochs=2",
        "train.batch_size=50",
        "train.lr=0.01",
        "train.progress=false",
    ]
    return load_config(None, [*base, *overrides])


def batch(exp, n: int):
    """The first ``n`` training samples of an experiment, encoded: (fields, labels)."""
    train = exp.splits.train
    return exp.method.encode(train.images[:n]), train.labels[:n]
