"""The example of a user-defined analog system trains with DAT through the public API."""

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_analog_system.py"


def test_example_trains_a_user_defined_system_with_dat(capsys):
    spec = importlib.util.spec_from_file_location("custom_analog_system", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(epochs=4)
    assert result["method"] == "dat" and result["internal_states"] == "unitary"
    # each training sample is read twice: the output and the hidden layer (internal state)
    assert result["frames"]["tap:0"] == 4 * result["train_samples"]  # validation: output only
    assert result["frames"]["output"] > result["frames"]["tap:0"]
    assert result["test_accuracy_physical"] > 0.7  # chance is 0.1
    assert "DAT w/ IS on the analog chip" in capsys.readouterr().out
