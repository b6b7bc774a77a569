import pytest
import torch
import torch.nn.functional as F

import intermask.models.attention as attention_module
import intermask.models.dropout as dropout_module
from intermask.models.attention import EncoderLayer, MultiheadAttention
from intermask.models.dropout import Dropout, dropout


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_cpu_dropout_keeps_each_element_with_probability_one_minus_p_and_rescales(p):
    torch.manual_seed(0)
    x = torch.full((400, 1000), 3.0, requires_grad=True)
    out = dropout(x, p)
    kept = out != 0
    assert kept.float().mean().item() == pytest.approx(1 - p, abs=0.003)  # 400k draws: sd < 0.001
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 3.0 / (1 - p)))
    out.sum().backward()  # the gradient is the same mask and scale
    torch.testing.assert_close(x.grad, out.detach() / 3.0)


def test_dropout_is_the_identity_when_off_and_draws_fresh_masks_when_on():
    x = torch.randn(64, 64)
    assert dropout(x, 0.3, training=False) is x
    assert dropout(x, 0.0) is x
    layer = Dropout(0.3)
    assert not list(layer.state_dict())
    assert torch.equal(layer.eval()(x), x)
    layer.train()
    torch.manual_seed(1)
    first = layer(x)
    torch.manual_seed(1)
    assert torch.equal(layer(x), first), "masks follow the global seed"
    assert not torch.equal(layer(x), first)


def test_other_devices_use_torch_dropout(monkeypatch):
    calls = []
    monkeypatch.setattr(F, "dropout", lambda x, p, training: calls.append(p) or x)
    x = torch.empty(4, 4, device="meta")
    assert dropout(x, 0.2) is x
    assert calls == [0.2]


def test_cpu_training_attention_with_dropout_takes_the_plain_products_at_any_length(monkeypatch):
    sdpa_calls = []
    sdpa = F.scaled_dot_product_attention
    monkeypatch.setattr(F, "scaled_dot_product_attention", lambda *a, **k: sdpa_calls.append(1) or sdpa(*a, **k))
    keys = attention_module.SHORT_KEYS + 8
    attention = MultiheadAttention(16, 2, dropout=0.5)
    x = torch.randn(3, keys, 16)
    attention.eval()(x)
    assert sdpa_calls == [1]  # inference on long sequences: fused SDPA
    torch.manual_seed(0)
    dropped = attention.train()(x)
    assert sdpa_calls == [1]  # training with dropout: the plain path and its CPU mask
    assert not torch.allclose(dropped, attention.eval()(x))


def test_encoder_layer_is_torchs_layer_with_the_cpu_dropout_masks(monkeypatch):
    torch.manual_seed(0)
    ours = EncoderLayer(16, 4, 32, 0.1, activation="gelu", batch_first=True)
    theirs = torch.nn.TransformerEncoderLayer(16, 4, 32, 0.1, activation="gelu", batch_first=True)
    assert theirs.load_state_dict(ours.state_dict()) and list(ours.state_dict()) == list(theirs.state_dict())
    encoder = torch.nn.TransformerEncoder(ours, 2, enable_nested_tensor=False)  # hands its layers float masks
    reference = torch.nn.TransformerEncoder(theirs, 2, enable_nested_tensor=False)
    x = torch.randn(3, 7, 16)
    padding = torch.tensor([[False] * 7, [False] * 5 + [True] * 2, [False] * 2 + [True] * 5])
    expected = reference.eval()(x, src_key_padding_mask=padding)
    torch.testing.assert_close(encoder.eval()(x, src_key_padding_mask=padding), expected)

    # training on a CPU: every dropout draws its mask through models.dropout, none through F.dropout's bernoulli
    drawn = []
    monkeypatch.setattr(F, "dropout", lambda *a, **k: pytest.fail("F.dropout called"))
    monkeypatch.setattr(torch, "dropout", lambda *a, **k: pytest.fail("torch.dropout called"))
    monkeypatch.setattr(attention_module, "dropout", lambda x, p, training=True: drawn.append(p) or x)
    monkeypatch.setattr(dropout_module, "dropout", lambda x, p, training=True: drawn.append(p) or x)
    # with every mask keeping everything, training is the same function as inference, padding respected
    torch.testing.assert_close(encoder.train()(x, src_key_padding_mask=padding), expected)
    assert drawn == [0.1] * 8  # per layer: the attention weights, its output, the feed-forward's hidden and output
