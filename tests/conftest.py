import os

import pytest
import torch

# Small ops on 2 cores: one thread avoids oversubscription when tests run beside other work.
torch.set_num_threads(int(os.environ.get("PHOTONIC_DAT_TEST_THREADS", "1")))


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)
