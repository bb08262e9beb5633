import json

import pytest

from photonic_dat.experiments.sweep import Job, deploy_job, mean_spread, train_job
from tests.config.test_dpnn_family import JOINT, TINY

INSILICO = (*TINY, *JOINT, "method=insilico", "train.epochs=1")


def test_training_and_deployment_results_are_kept_and_reused(tmp_path):
    trained = Job(None, INSILICO, str(tmp_path / "insilico"))
    result = train_job(trained)
    checkpoint = tmp_path / "insilico" / "model.safetensors"
    stamp = checkpoint.stat().st_mtime_ns
    assert train_job(trained) == result and checkpoint.stat().st_mtime_ns == stamp

    device = Job(None, (*INSILICO, "errors.seed=3"), str(tmp_path / "seed3" / "dd"))
    deployed = deploy_job(device, trained.run_dir)
    record = json.loads((tmp_path / "seed3" / "dd" / "result.json").read_text())
    assert record == deployed  # the same figures whether measured now or read back later
    assert record["trained_run"] == trained.run_dir and "errors.seed=3" in record["overrides"]
    # a second call reads the kept figures instead of measuring again
    record["test_accuracy_physical"] = -1.0
    (tmp_path / "seed3" / "dd" / "result.json").write_text(json.dumps(record))
    assert deploy_job(device, trained.run_dir)["test_accuracy_physical"] == -1.0
    # the deployment is that of the trained masks on another device: same ideal-twin accuracy
    unsaved = deploy_job(Job(None, (*INSILICO, "errors.seed=3"), ""), trained.run_dir)
    assert unsaved["test_accuracy_physical"] == deployed["test_accuracy_physical"]
    assert unsaved["test_accuracy_twin"] == pytest.approx(result["test_accuracy_twin"])


def test_mean_spread_formats_percent_over_seeds():
    assert mean_spread([]) == "-"
    assert mean_spread([0.5]) == "50.0 +- 0.0"
    assert mean_spread([0.9, 0.7]) == "80.0 +- 14.1"
