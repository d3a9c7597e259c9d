import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# tools/ is not a package: make its scripts importable in tests
sys.path.insert(0, str(REPO_ROOT / "tools"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session", autouse=True)
def _quiet_threads():
    # 2-core machines: keep torch from oversubscribing when tests run model code
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    yield


@pytest.fixture(scope="session")
def tiny_toy(tmp_path_factory):
    """A tiny toy-shapes data set registered as toy_tiny_{train,val} (and its Cityscapes views)."""
    from noisy_seg.data.datasets.builtin import prepare_toy_dataset, register_toy_datasets

    root = tmp_path_factory.mktemp("toy_tiny")
    settings = dict(num_train=16, num_val=4, image_size=96)
    register_toy_datasets(root, prefix="toy_tiny", **settings)
    return prepare_toy_dataset(root, **settings)  # on disk now, for tests that read the files
