"""Shared fixtures and marker handling."""

from __future__ import annotations

import pytest
import torch

# Two pytest-xdist workers share the machine's two cores: one torch thread each avoids
# oversubscription (tiny convolutions ran ~100x slower with threads fighting).
torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
