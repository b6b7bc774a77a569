"""`body_size_probe.py` on a tokenizer trained by `train_size_given.py` (its decoder told each window's size).

    python docs/bench/avx2_machine/quantizer/probe_size_given.py CKPT experiment=demo [overrides]
"""
import importlib
import runpy
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here))
importlib.import_module("train_size_given")  # patches the VQ-VAE and its task on import

runpy.run_path(str(here / "body_size_probe.py"), run_name="__main__")
