import importlib.util
import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """The project's shared folder (real data, reference facts); skips the test when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED}")
    return SHARED


@pytest.fixture
def load_script():
    """A loader of the repository's ``scripts/NAME.py`` (or ``<folder>/NAME.py``) as a module (the scripts are not
    part of the package)."""

    def load(name: str, folder: str = "scripts"):
        spec = importlib.util.spec_from_file_location(name, REPO / folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
