import pytest
import yaml

#: a tiny MPNN on the embedded digits: about a second per run on one core
TINY_SET = {
    "mpnn.ports": 16,
    "mpnn.meshes": 2,
    "data.train_samples": 160,
    "data.val_samples": 40,
    "data.test_samples": 80,
    "dat.sepn.features": [4, 8],
    "dat.sepn_start_epoch": 0,
    "train.epochs": 1,
    "train.batch_size": 40,
}


def tiny_spec(**changes):
    spec = {
        "name": "tiny",
        "preset": "mpnn-digits",
        "set": dict(TINY_SET),
        "zip": {"errors": {"errors.bs_std": [0.0, 0.05], "errors.ps_std": [0.0, 0.05]}},
        "seeds": [0, 1],
        "methods": {
            "dd": {
                "set": {"method": "insilico"},
                "deploy": {"errors.bs_std": 0.0, "errors.ps_std": 0.0, "errors.seed": 0},
            },
            "pat": {"set": {"method": "pat"}},
        },
        "exclude": [{"errors.bs_std": 0.0, "method": "pat"}],
    }
    spec.update(changes)
    return spec


@pytest.fixture
def write_spec(tmp_path):
    def write(spec, name="spec.yaml"):
        path = tmp_path / name
        path.write_text(yaml.safe_dump(spec))
        return path

    return write
