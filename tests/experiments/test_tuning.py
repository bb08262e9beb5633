import pytest
import yaml

from photonic_dat.config.loading import load_config
from photonic_dat.exceptions import ConfigError
from photonic_dat.experiments.sweep import train_configs
from photonic_dat.experiments.tuning import (
    apply_tuned,
    load_tuning_spec,
    run_tuning,
    write_tuned_preset,
)
from tests.helpers import small_config

SPEC = {
    "set": ["data.train_samples=200"],
    "epochs": 1,
    "error_seed": 7,
    "methods": {
        "insilico": [{"train.lr": 0.001}, {"train.lr": 0.05}],
        "pat": [{"train.lr": 0.001}, {"train.lr": 0.05}],
    },
}


def _write(tmp_path, spec):
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_every_method_must_get_the_same_number_of_configurations(tmp_path):
    bad = {**SPEC, "methods": {**SPEC["methods"], "pat": [{"train.lr": 0.01}]}}
    with pytest.raises(ConfigError, match="same number"):
        load_tuning_spec(_write(tmp_path, bad))
    with pytest.raises(ConfigError, match="unknown method"):
        load_tuning_spec(_write(tmp_path, {**SPEC, "methods": {"sgd": [{}]}}))


def test_tuning_picks_by_validation_never_tests_and_writes_the_choice(tmp_path):
    spec = load_tuning_spec(_write(tmp_path, SPEC))
    base = small_config()
    record = run_tuning(base, spec, tmp_path / "out", lambda p: train_configs(p, workers=1))
    for entry in record["methods"].values():
        assert entry["chosen_validation"] == max(entry["validation"])
        assert entry["spread"] == max(entry["validation"]) - min(entry["validation"])
    assert record["methods"]["insilico"]["frames"] == 0  # never touches the device
    assert record["methods"]["pat"]["frames"] > 0
    result = (tmp_path / "out" / "pat" / "config0" / "result.json").read_text()
    assert '"test_accuracy_physical": null' in result  # the test split is not measured
    preset = tmp_path / "tuned.yaml"
    write_tuned_preset(base, record, preset)
    tuned = load_config(preset)
    chosen = record["methods"]["pat"]["chosen"]["train.lr"]
    assert apply_tuned(tuned, "pat").train.lr == chosen
    assert apply_tuned(tuned, "pat+cal").train.lr == chosen  # same choice, calibrated twin
    assert apply_tuned(tuned, "dat-none").train.lr == base.train.lr  # untuned: unchanged
