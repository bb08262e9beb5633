"""The crossbar and Fourier-plane families: presets, keys and the systems they may run on."""

import pytest

from photonic_dat.config.factory import build_experiment, build_pnn, build_system
from photonic_dat.config.loading import load_config
from photonic_dat.config.presets import list_presets
from photonic_dat.exceptions import ConfigError


def test_presets_of_the_new_families_load():
    for name in ("crossbar-digits", "crossbar-mnist", "slm-digits", "slm-mnist"):
        assert name in list_presets()
        cfg = load_config(name)
        assert cfg.model in ("crossbar", "fourier")
    assert load_config("slm-digits").system.kind == "slmsuite"


def test_crossbar_layers_follow_the_config():
    pnn = build_pnn(load_config("crossbar-digits", ["crossbar.hidden=[20]"]))
    shapes = [tuple(p.shape) for p in pnn.optical_parameters().values()]
    assert shapes == [(20, 64), (10, 20)]
    assert pnn.internal_taps == (0,) and pnn.sepn_blocks == (0, 2)


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (["model=fourier"], "system.kind=slmsuite"),
        (["model=crossbar", "system.kind=slmsuite"], "model=fourier"),
        (["model=crossbar", "method=calibration"], "mpnn and dpnn"),
        (["errors.crossbar.tile_rows=0"], "errors.crossbar.tile_rows"),
        (["errors.slm.vignetting=1.5"], "errors.slm.vignetting"),
    ],
)
def test_unsupported_combinations_are_config_errors(overrides, fragment):
    with pytest.raises(ConfigError, match=fragment):
        cfg = load_config(None, [*overrides, "data.train_samples=50", "train.progress=false"])
        if overrides[0].startswith("model=fourier"):
            build_system(cfg, build_pnn(cfg))
        build_experiment(cfg)
