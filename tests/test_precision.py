import pytest
import torch

from intermask.errors import ConfigError
from intermask.precision import autocast, check_settings, resolve_amp, resolve_compile

CPU = torch.device("cpu")


def test_auto_keeps_float32_on_a_cpu_and_bf16_is_honoured_anywhere():
    assert resolve_amp("auto", CPU) is None and resolve_amp("off", CPU) is None
    assert resolve_amp("bf16", CPU) is torch.bfloat16
    assert resolve_amp(True, CPU) is torch.bfloat16 and resolve_amp(False, CPU) is None and resolve_amp(None, CPU) is None


def test_autocast_runs_matrix_products_in_the_chosen_precision():
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with autocast("bf16", CPU):
        assert (a @ b).dtype == torch.bfloat16
    with autocast("auto", CPU):
        assert (a @ b).dtype == torch.float32


def test_unknown_precision_names_the_choices():
    with pytest.raises(ValueError, match="auto"):
        resolve_amp("fp16", CPU)


def test_compile_auto_means_cuda_only_and_booleans_pass_through():
    assert resolve_compile("auto", CPU) is False and resolve_compile("auto", torch.device("cuda")) is True
    assert resolve_compile(True, CPU) is True and resolve_compile(False, torch.device("cuda")) is False
    assert resolve_compile(None, CPU) is False
    with pytest.raises(ValueError, match="auto"):
        resolve_compile("sometimes", CPU)


def test_settings_are_checked_by_name_before_anything_runs():
    check_settings({"amp": "auto", "compile": "auto"}, "generation")
    check_settings({}, "sample")  # absent settings mean float32 and eager
    with pytest.raises(ConfigError, match=r"generation\.compile"):
        check_settings({"amp": "off", "compile": "sometimes"}, "generation")
    with pytest.raises(ConfigError, match=r"train\.amp"):
        check_settings({"amp": "fp8"}, "train")
