import pytest
import torch

from photonic_dat.config.factory import build_experiment, draw_errors
from photonic_dat.config.loading import load_config
from photonic_dat.seeding import STREAMS, stream_seed


def test_streams_differ_and_are_stable():
    seeds = {stream: stream_seed(0, stream) for stream in STREAMS}
    assert len(set(seeds.values())) == len(STREAMS)
    assert stream_seed(0, "init") == stream_seed(0, "init")
    assert stream_seed(0, "init") != stream_seed(1, "init")
    with pytest.raises(KeyError, match="unknown random stream"):
        stream_seed(0, "nope")


def _dpnn(*overrides: str):
    base = [
        "dpnn.neurons=32",
        "dpnn.layers=2",
        "dpnn.detector_size=3",
        "dpnn.init_std=1.0",
        "errors.pixel_phase_std=1.0",
        # only the per-pixel error: it is the device stream's first draw, as the initial
        # phases are the init stream's (with one shared stream they would be identical)
        "errors.shift_std=0",
        "errors.rotation_std=0",
        "errors.distance_std=0",
        "errors.phase_gain_std=0",
        "errors.phase_gamma_std=0",
        "errors.illumination_tilt_std=0",
        "data.name=digits",
        "dpnn.input_size=8",
    ]
    return load_config("dpnn-cpu", [*base, *overrides])


def test_equal_seeds_give_uncorrelated_init_and_device_errors():
    config = _dpnn("seed=0", "errors.seed=0")
    exp = build_experiment(config)
    init = exp.method.twin.blocks[0].raw.detach().flatten()
    device = draw_errors(config, exp.method.twin).block(0)["pixel_phase"].flatten()
    corr = torch.corrcoef(torch.stack([init, device]))[0, 1]
    # 1,024 independent pairs: |corr| has a std of about 0.03; identical streams give 1
    assert abs(float(corr)) < 0.15


def test_each_seed_moves_only_its_own_streams():
    a = build_experiment(_dpnn("seed=0", "errors.seed=0"))
    b = build_experiment(_dpnn("seed=0", "errors.seed=1"))
    c = build_experiment(_dpnn("seed=1", "errors.seed=0"))
    raw = [e.method.twin.blocks[0].raw for e in (a, b, c)]
    assert torch.equal(raw[0], raw[1]) and not torch.equal(raw[0], raw[2])
    dev = [draw_errors(e.config, e.method.twin).block(0)["pixel_phase"] for e in (a, b, c)]
    assert torch.equal(dev[0], dev[2]) and not torch.equal(dev[0], dev[1])
    assert torch.equal(a.splits.train.labels, b.splits.train.labels)
    assert not torch.equal(a.splits.train.labels, c.splits.train.labels)
