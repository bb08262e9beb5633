import os

# Tests run on the CPU: hide any GPU from torch (train.device "auto" then means the CPU)
# unless PHOTONIC_DAT_TEST_DEVICE=cuda asks for a GPU pass (benchmarks/gpu_check.py does).
if os.environ.get("PHOTONIC_DAT_TEST_DEVICE", "cpu") == "cpu":
    os.environ["CUDA_VISIBLE_DEVICES"] = ""

import pytest  # noqa: E402
import torch  # noqa: E402

# Small ops on 2 cores: one thread avoids oversubscription when tests run beside other work.
torch.set_num_threads(int(os.environ.get("PHOTONIC_DAT_TEST_THREADS", "1")))


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)
