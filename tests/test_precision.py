import pytest
import torch

from intermask.errors import ConfigError
from intermask.precision import autocast, check_settings, cpu_has_bf16_units, resolve_amp, resolve_compile

CPU = torch.device("cpu")


def test_auto_keeps_float32_on_a_cpu_and_bf16_is_honoured_anywhere():
    assert resolve_amp("auto", CPU) is None and resolve_amp("off", CPU) is None
    assert resolve_amp("bf16", CPU) is torch.bfloat16
    assert resolve_amp(True, CPU) is torch.bfloat16 and resolve_amp(False, CPU) is None and resolve_amp(None, CPU) is None


def test_auto_samples_in_bf16_on_a_cpu_with_bf16_units_and_trains_in_float32(monkeypatch):
    from intermask import precision

    monkeypatch.setattr(precision, "cpu_has_bf16_units", lambda: True)
    assert resolve_amp("auto", CPU, inference=True) is torch.bfloat16
    assert resolve_amp("auto", CPU) is None and resolve_amp("off", CPU, inference=True) is None
    monkeypatch.setattr(precision, "cpu_has_bf16_units", lambda: False)
    assert resolve_amp("auto", CPU, inference=True) is None


def test_autocast_runs_matrix_products_in_the_chosen_precision():
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with autocast("bf16", CPU):
        assert (a @ b).dtype == torch.bfloat16
    with autocast("auto", CPU):
        assert (a @ b).dtype == torch.float32
    with autocast("auto", CPU, inference=True):
        assert (a @ b).dtype == (torch.bfloat16 if cpu_has_bf16_units() else torch.float32)


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


def test_the_tokenizer_decodes_in_float32_even_when_the_transformer_samples_in_bf16():
    from helpers.stand_in import tiny_model
    from intermask.motion.layout import INTERHUMAN

    model = tiny_model(INTERHUMAN)
    ids = torch.randint(0, 16, (2, 2, 5, 6), generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([6, 4])
    exact = model.decode(ids, lengths)
    with autocast("bf16", CPU):
        under_bf16 = model.decode(ids, lengths)
    assert under_bf16.dtype == torch.float32 and torch.equal(under_bf16, exact)
    generated, features = model.generate(["two people hug"] * 2, lengths * 4, steps=2, amp="bf16",
                                         generator=torch.Generator().manual_seed(1))
    assert torch.equal(features, model.decode(generated, lengths))
