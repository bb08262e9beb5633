import math

import torch

from photonic_dat.config.factory import build_experiment, build_pnn
from photonic_dat.config.serving import served_device
from photonic_dat.systems.template import LEVELS, LabDevice
from photonic_dat.training.loop import fit
from tests.helpers import small_config
from tests.systems.serving import make_key, remote_overrides, serving

TEMPLATE = "photonic_dat.systems.template:LabDevice"


def test_template_quantises_phases_to_its_grey_levels():
    config = small_config()
    device = LabDevice(config, build_pnn(config))
    step = 2 * math.pi / LEVELS
    phases = torch.tensor([0.0, 0.4 * step, 0.6 * step, 2 * math.pi - 0.4 * step, -step, 7.0])
    levels = device._levels({"p": phases})["p"]
    assert levels.tolist() == [0, 0, 1, 0, LEVELS - 1, round((7.0 - 2 * math.pi) / step)]


def test_the_template_device_serves_and_trains(tmp_path):
    config = small_config("dat.internal_states=unitary", "train.epochs=1")
    key = make_key(tmp_path)
    with serving(config, key, device=TEMPLATE) as server:
        identity = server.identity
        assert identity["system"] == "LabDevice"
        assert identity["description"]["serial"] == "SIM-0001"
        assert set(identity["calibration_files"]) == {"phase_lut.json"}
        exp = build_experiment(small_config(*remote_overrides(server, key), "train.epochs=1"))
        assert exp.system.timings.frame_s == 0.01  # declared by the device, not the config
        result = fit(exp).result
        exp.system.close()
    assert result["test_accuracy_physical"] > 0.3
    assert result["device_seconds"] > 0


def test_served_device_builds_the_template_again_after_a_restart():
    served = served_device(small_config(), TEMPLATE)
    a, b = served.make(), served.make()
    assert isinstance(a, LabDevice) and a is not b
