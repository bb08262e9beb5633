import pytest

from photonic_dat.config.loading import ConfigError, load_config
from photonic_dat.config.presets import list_presets


def test_defaults_and_presets():
    assert {"mpnn-digits", "mpnn-mnist", "mpnn-fashion-mnist"} <= set(list_presets())
    default = load_config(None, preset_default=True)
    assert default.data.name == "digits"
    assert (default.errors.bs_std, default.errors.ps_std) == (0.06, 0.06)
    mnist = load_config("mpnn-mnist")
    assert (mnist.train.batch_size, mnist.train.epochs, mnist.dat.sepn_start_epoch) == (500, 50, 20)
    assert mnist.train.lr == mnist.dat.lr == 1e-3


def test_overrides_are_typed():
    cfg = load_config(None, ["errors.bs_std=0.04", "dat.sepn.features=[4, 6, 8]", "data.root=null"])
    assert cfg.errors.bs_std == 0.04
    assert cfg.dat.sepn.features == [4, 6, 8]
    assert cfg.data.root is None


@pytest.mark.parametrize(
    "override, key",
    [
        ("errors.bs_std=-0.1", "errors.bs_std"),
        ("method=sgd", "method"),
        ("dat.internal_states=both", "dat.internal_states"),
        ("train.epochs=0", "train.epochs"),
        ("data.name=cifar", "data.name"),
        ("train.batchsize=4", "train.batchsize"),
        ("mpnn.ports=abc", "mpnn.ports"),
    ],
)
def test_bad_values_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [override])


def test_bad_override_syntax_and_files(tmp_path):
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(None, ["errors.bs_std"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)


def test_fft_crop_must_fit_ports():
    with pytest.raises(ConfigError, match="fft_crop"):
        load_config(None, ["mpnn.ports=16", "mpnn.fft_crop=8"])
