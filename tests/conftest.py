import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="module")
def load_script():
    """Import a file of scripts/ as a module by name (``load_script("adherence")``); forgotten after the test module.
    It is registered in ``sys.modules`` while it loads: dataclasses look their module up while being defined."""
    loaded = []

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"{name}_script", SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        loaded.append(spec.name)
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)


@pytest.fixture(scope="session")
def family_clips(tmp_path_factory):
    """Eight synthetic clips under their own indices (``FAMILY_CLIP_INDICES``), all in the test split, for the
    per-family scripts' tests: (root, clips). Read only: a test that changes it works on a copy."""
    from helpers.fake_data import FAMILY_CLIP_INDICES, write_synthetic_split

    from intermask.data.synthetic import generate_clip

    root = tmp_path_factory.mktemp("family_clips") / "synthetic"
    clips = [generate_clip(index, seed=11) for index in FAMILY_CLIP_INDICES]
    write_synthetic_split(root, [(f"{index:06d}", clip) for index, clip in zip(FAMILY_CLIP_INDICES, clips)])
    return root, clips
