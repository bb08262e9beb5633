import json

import pytest
import torch

from photonic_dat.config.factory import build_pnn, draw_errors
from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.errors.specs import DiffractiveErrorSpec, MeshErrorSpec
from photonic_dat.exceptions import RuntimeFailure
from tests.helpers import small_config


def _config(seed=3):
    return small_config(
        f"errors.seed={seed}",
        "errors.crosstalk=0.02",
        "errors.loss_db_mean=0.2",
        "errors.loss_db_std=0.05",
    )


def test_realisation_is_seeded_and_has_expected_shapes():
    cfg = _config()
    pnn = build_pnn(cfg)
    a, b = draw_errors(cfg, pnn), draw_errors(cfg, pnn)
    assert a.digest() == b.digest()
    assert draw_errors(_config(seed=4), pnn).digest() != a.digest()
    mesh = a.block(0)
    assert set(mesh) == {
        "bs_error",
        "theta_offset",
        "phi_offset",
        "phi_in_offset",
        "crosstalk",
        "amplitude",
    }
    assert mesh["bs_error"].shape == (16, 8, 2)
    assert a.block(1) == {}  # the activation has no systematic errors
    assert torch.all(mesh["amplitude"] <= 1)
    assert abs(float(mesh["bs_error"].std()) - 0.05) < 0.01


def test_realisation_round_trips_bit_for_bit(tmp_path):
    cfg = _config()
    real = draw_errors(cfg, build_pnn(cfg))
    real.save(tmp_path)
    back = ErrorRealisation.load(tmp_path)
    assert back.digest() == real.digest()
    for k, block in enumerate(real.blocks):
        for name, t in block.items():
            assert torch.equal(back.block(k)[name], t)
    meta = json.loads((tmp_path / "errors.json").read_text())
    assert meta["meta"]["spec"]["bs_std"] == 0.05


def test_tampered_realisation_is_rejected(tmp_path):
    cfg = _config()
    draw_errors(cfg, build_pnn(cfg)).save(tmp_path)
    info = json.loads((tmp_path / "errors.json").read_text())
    info["digest"] = "0" * 64
    (tmp_path / "errors.json").write_text(json.dumps(info))
    with pytest.raises(RuntimeFailure, match="digest"):  # a corrupt file: exit status 1
        ErrorRealisation.load(tmp_path)


def test_specs_validate():
    with pytest.raises(ValueError, match="bs_std"):
        MeshErrorSpec(bs_std=-0.1)
    with pytest.raises(ValueError, match="fill_factor"):
        DiffractiveErrorSpec(fill_factor=1.5)
