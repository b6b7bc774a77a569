import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from intermask.models.graph import SkeletonGraphConv, mean_adjacency
from intermask.models.vqvae import (
    MotionVQVAE, UpStage, features_to_joint_grid, joint_grid_to_features, upsample2x_conv3x3,
)
from intermask.official.weights import OfficialCheckpointError, convert_vq, vq_key_table
from intermask.motion.layout import INTERHUMAN as LAYOUT
from intermask.motion.layout import INTERX

SMALL = dict(width=32, code_dim=16, num_codes=64)


def small_model(layout=LAYOUT, **kwargs) -> MotionVQVAE:
    torch.manual_seed(0)
    return MotionVQVAE(layout, **{**SMALL, **kwargs})


def random_features(batch, time, seed=0):
    return torch.randn(batch, time, LAYOUT.dim, generator=torch.Generator().manual_seed(seed))


# ---- skeleton graph convolution -------------------------------------------------------------------------


def graph_conv(legacy=False, in_ch=5, out_ch=7):
    torch.manual_seed(0)
    return SkeletonGraphConv(in_ch, out_ch, LAYOUT.bones, LAYOUT.num_joints, legacy=legacy)


def test_skeleton_adjacency_has_42_directed_edges_no_self_loops_and_rows_that_average():
    adjacency = mean_adjacency(LAYOUT.bones, LAYOUT.num_joints)
    assert torch.count_nonzero(adjacency) == 42
    assert torch.count_nonzero(adjacency.diagonal()) == 0
    assert torch.equal(adjacency > 0, (adjacency > 0).t())
    torch.testing.assert_close(adjacency.sum(1), torch.ones(LAYOUT.num_joints))


def test_graph_conv_parameters_have_the_pyg_sageconv_names():
    assert set(graph_conv().state_dict()) == {"lin.weight", "lin.bias", "lin_l.weight", "lin_l.bias",
                                              "lin_r.weight"}


def test_graph_conv_computes_sage_with_projected_mean_of_neighbours():
    layer = graph_conv()
    x = torch.randn(2, 5, 22, 3)
    out = layer(x)
    neighbours = {j: [] for j in range(22)}
    for a, b in LAYOUT.bones:
        neighbours[a].append(b)
        neighbours[b].append(a)
    for batch, joint, frame in [(0, 0, 0), (1, 9, 2), (1, 20, 1), (0, 15, 2)]:
        node = lambda j: x[batch, :, j, frame]  # noqa: E731
        aggregate = torch.stack([F.relu(layer.lin(node(n))) for n in neighbours[joint]]).mean(0)
        expected = layer.lin_l(aggregate) + layer.lin_r(node(joint))
        torch.testing.assert_close(out[batch, :, joint, frame], expected)


def test_graph_conv_output_does_not_depend_on_batch_or_frame_position():
    layer = graph_conv()
    x = torch.randn(3, 5, 22, 4)
    out = layer(x)
    torch.testing.assert_close(layer(x[2:3]), out[2:3])
    torch.testing.assert_close(layer(x.flip(-1)), out.flip(-1))


def test_legacy_graph_conv_differs_only_at_sample_0_frame_0():
    correct, legacy = graph_conv(), graph_conv(legacy=True)
    x = torch.randn(3, 5, 22, 4)
    out, out_legacy = correct(x), legacy(x)
    torch.testing.assert_close(out_legacy[0, :, :, 0], out[0, :, :, 0])
    # everywhere else the neighbours are invisible: lin_l(0) + lin_r(x) = lin_l.bias + lin_r(x)
    own = torch.einsum("oc,bcjt->bojt", legacy.lin_r.weight, x) + legacy.lin_l.bias[None, :, None, None]
    elsewhere = torch.ones(3, 4, dtype=torch.bool)
    elsewhere[0, 0] = False
    torch.testing.assert_close(out_legacy.permute(0, 3, 1, 2)[elsewhere], own.permute(0, 3, 1, 2)[elsewhere])
    assert not torch.allclose(out.permute(0, 3, 1, 2)[elsewhere], out_legacy.permute(0, 3, 1, 2)[elsewhere])


def test_graph_conv_rejects_a_wrong_joint_count():
    with pytest.raises(ValueError, match="22"):
        graph_conv()(torch.randn(1, 5, 21, 3))


# ---- packing --------------------------------------------------------------------------------------------


def test_joint_grid_holds_position_velocity_rotation_per_joint_with_a_zero_root_rotation():
    features = random_features(2, 8)
    grid = features_to_joint_grid(features, LAYOUT)
    assert grid.shape == (2, 12, 22, 8)
    torch.testing.assert_close(grid[:, 0:3, 4, :], features[..., 12:15].transpose(1, 2))
    torch.testing.assert_close(grid[:, 3:6, 4, :], features[..., 66 + 12:66 + 15].transpose(1, 2))
    torch.testing.assert_close(grid[:, 6:12, 4, :], features[..., 132 + 18:132 + 24].transpose(1, 2))
    assert torch.count_nonzero(grid[:, 6:12, 0, :]) == 0


def test_unpacking_restores_features_with_zero_foot_contacts():
    features = random_features(2, 8)
    restored = joint_grid_to_features(features_to_joint_grid(features, LAYOUT), LAYOUT)
    expected = features.clone()
    expected[..., LAYOUT.contact] = 0
    torch.testing.assert_close(restored, expected)


# ---- the model ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("frames", [64, 128, 300])
def test_vqvae_reconstructs_the_input_shape_with_a_5_by_quarter_time_token_grid(frames):
    model = small_model()
    out = model(random_features(1, frames))
    assert out["recon"].shape == (1, frames, LAYOUT.dim)
    assert out["codes"].shape == (1, 5, frames // 4)
    assert out["commit_loss"].ndim == 0 and out["perplexity"].ndim == 0 and out["usage"].ndim == 0
    assert torch.count_nonzero(out["recon"][..., LAYOUT.contact]) == 0


def test_vqvae_rejects_a_frame_count_not_divisible_by_4():
    model = small_model()
    with pytest.raises(ValueError, match="62 frames.*multiple of 4"):
        model(random_features(1, 62))
    with pytest.raises(ValueError, match="multiple of 4"):
        model.encode(random_features(1, 62))


def test_vqvae_rejects_wrong_feature_size_and_nans():
    model = small_model()
    with pytest.raises(ValueError, match="262"):
        model(torch.zeros(1, 8, 261))
    features = random_features(1, 8)
    features[0, 3, 7] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model.encode(features)


def test_vqvae_downsamples_joints_22_to_5_and_time_by_4():
    model = small_model()
    grid = features_to_joint_grid(random_features(2, 64), LAYOUT)
    assert model.encoder(grid).shape == (2, SMALL["code_dim"], 5, 16)
    assert model.decoder(torch.randn(2, SMALL["code_dim"], 5, 16)).shape == (2, 12, 22, 64)


def test_decoder_explicit_upsample_size_equals_the_published_scale_factor():
    latent = torch.randn(1, 3, 5, 7)
    by_size = F.interpolate(latent, size=(11, 14), mode="nearest")
    by_factor = F.interpolate(latent, scale_factor=(2.2, 2), mode="nearest")
    assert torch.equal(by_size, by_factor)


@pytest.mark.parametrize("size, bias", [((3, 5), True), ((1, 1), True), ((4, 6), False)])
def test_folded_upsample_conv_equals_nearest_upsampling_then_the_convolution(size, bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 7, 3, padding=1, bias=bias).double()
    x = torch.randn(2, 6, *size, dtype=torch.float64, requires_grad=True)
    expected = conv(F.interpolate(x, scale_factor=2, mode="nearest"))
    folded = upsample2x_conv3x3(x, conv)
    assert folded.shape == expected.shape == (2, 7, 2 * size[0], 2 * size[1])
    torch.testing.assert_close(folded, expected)
    upstream = torch.randn_like(expected)
    wanted = torch.autograd.grad(expected, [x, *conv.parameters()], upstream)
    got = torch.autograd.grad(folded, [x, *conv.parameters()], upstream)
    for a, b in zip(got, wanted):
        torch.testing.assert_close(a, b)


def test_folded_upsample_conv_rejects_other_convolutions():
    with pytest.raises(ValueError, match="3x3 convolution with padding 1"):
        upsample2x_conv3x3(torch.randn(1, 4, 3, 3), nn.Conv2d(4, 4, 3, padding=2, dilation=2))


def test_up_stage_folds_exact_doublings_and_interpolates_the_rest(monkeypatch):
    stage = UpStage(8, depth=1, dilation_growth=3, dropout=0.0).eval()
    x = torch.randn(2, 8, 5, 6)
    reference = {size: stage.conv(F.interpolate(stage.resnet(x), size=size, mode="nearest"))
                 for size in [(10, 12), (11, 12)]}
    calls = []
    interpolate = F.interpolate
    monkeypatch.setattr(F, "interpolate", lambda *a, **k: calls.append(k["size"]) or interpolate(*a, **k))
    for size, expected in reference.items():
        torch.testing.assert_close(stage(x, size=size), expected, rtol=1e-5, atol=1e-5)
    assert calls == [(11, 12)]  # 5 -> 10 joints and 6 -> 12 steps never build the upsampled map


def test_eval_encode_then_decode_is_deterministic_and_tokens_are_codebook_ids():
    model = small_model()
    model.train()
    model(random_features(4, 32, seed=1))  # initialises the codebook
    model.eval()
    features = random_features(2, 32, seed=2)
    codes = model.encode(features)
    assert codes.dtype == torch.long
    assert codes.min() >= 0 and codes.max() < SMALL["num_codes"]
    assert torch.equal(model.encode(features), codes)
    assert torch.equal(model.decode(codes), model.decode(codes))
    assert model.decode(codes).shape == (2, 32, LAYOUT.dim)
    assert torch.equal(model(features)["codes"], codes)


def test_eval_encoding_of_a_sample_does_not_depend_on_the_rest_of_the_batch():
    model = small_model()
    model.train()
    model(random_features(4, 16, seed=1))
    model.eval()
    features = random_features(3, 16, seed=2)
    assert torch.equal(model.encode(features)[1:2], model.encode(features[1:2]))


def test_gradients_reach_the_encoder_through_the_straight_through_quantiser():
    model = small_model(dropout=0.0)
    out = model(random_features(2, 16))
    out["recon"].pow(2).mean().backward()  # no commit term: the only path to the encoder is straight-through
    for name in ("encoder.graph1.lin_r.weight", "encoder.to_code.weight", "decoder.graph2.lin_r.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_pad_tokens_decode_as_a_zero_latent():
    model = small_model().eval()
    model.quantizer.set_codebook(torch.randn(SMALL["num_codes"], SMALL["code_dim"]))
    pad = torch.full((1, 5, 3), model.pad_id)
    expected = joint_grid_to_features(model.decoder(torch.zeros(1, SMALL["code_dim"], 5, 3)), LAYOUT)
    torch.testing.assert_close(model.decode(pad), expected)
    assert model.pad_id == SMALL["num_codes"] + 1


def test_encode_with_lengths_uses_only_valid_frames_and_pads_the_rest():
    model = small_model()
    model.train()
    model(random_features(4, 32, seed=1))
    model.eval()
    features = random_features(4, 32, seed=2)
    lengths = torch.tensor([32, 21, 20, 3])  # 21 frames -> 5 steps from the first 20 frames
    codes = model.encode(features, lengths)
    assert torch.equal(codes[0], model.encode(features[:1])[0])
    for row in (1, 2):
        assert torch.equal(codes[row, :, :5], model.encode(features[row:row + 1, :20])[0])
        assert (codes[row, :, 5:] == model.pad_id).all()
    assert (codes[3] == model.pad_id).all()
    garbage = features.clone()
    garbage[1, 21:] = 1e3  # whatever lies beyond a sample's length must not change its tokens
    assert torch.equal(model.encode(garbage, lengths), codes)
    assert not torch.equal(model.encode(garbage)[1, :, :5], codes[1, :, :5])


def test_decode_with_lengths_decodes_each_sample_alone_and_zeroes_the_rest():
    model = small_model().eval()
    model.quantizer.set_codebook(torch.randn(SMALL["num_codes"], SMALL["code_dim"]))
    codes = torch.randint(0, SMALL["num_codes"], (4, 5, 8), generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([8, 3, 5, 3])
    features = model.decode(codes, lengths)
    assert features.shape == (4, 32, LAYOUT.dim)
    for row, length in enumerate(lengths.tolist()):
        alone = model.decode(codes[row:row + 1, :, :length])[0]
        torch.testing.assert_close(features[row, :4 * length], alone, rtol=1e-5, atol=1e-6)
        assert (features[row, 4 * length:] == 0).all()
    garbage = codes.clone()
    garbage[1, :, 3:] = 0  # what lies past a sample's length must not shape its last frames
    torch.testing.assert_close(model.decode(garbage, lengths), features)
    # without lengths, the padding does reach the valid frames: the reason decode takes lengths
    assert not torch.allclose(model.decode(codes)[1, :12], features[1, :12], atol=1e-4)


def test_decode_rejects_lengths_outside_the_token_grid():
    model = small_model().eval()
    codes = torch.zeros(2, 5, 4, dtype=torch.long)
    for lengths in (torch.tensor([4, 5]), torch.tensor([0, 2]), torch.tensor([2.0, 2.0]), torch.tensor([2])):
        with pytest.raises(ValueError, match="lengths_tokens"):
            model.decode(codes, lengths)


def test_encode_rejects_lengths_longer_than_the_clip():
    model = small_model().eval()
    with pytest.raises(ValueError, match="lengths"):
        model.encode(random_features(2, 16), torch.tensor([16, 17]))


def test_quantiser_state_survives_a_model_state_dict_round_trip():
    model = small_model()
    model.train()
    for seed in range(2):
        model(random_features(2, 16, seed=seed))
    rebuilt = MotionVQVAE.from_config(json.loads(json.dumps(model.config)))
    rebuilt.load_state_dict(model.state_dict())
    for name in ("codebook", "code_sum", "code_count", "initialized"):
        assert torch.equal(getattr(rebuilt.quantizer, name), getattr(model.quantizer, name)), name
    model.eval(), rebuilt.eval()
    features = random_features(1, 16, seed=5)
    assert torch.equal(rebuilt.encode(features), model.encode(features))
    torch.testing.assert_close(rebuilt(features)["recon"], model(features)["recon"])


def test_config_is_plain_data_of_the_constructor_arguments():
    model = small_model(dropout=0.1, legacy_graph=True)
    config = json.loads(json.dumps(model.config))
    assert config["width"] == 32 and config["dropout"] == 0.1 and config["legacy_graph"] is True
    assert config["layout"]["position"] == [0, 66]
    assert MotionVQVAE.from_config(config).layout == LAYOUT


def official_keys(num_stages=2, depth=2, graph=True):
    """Key names of a published VQ-VAE checkpoint (encoder/decoder ``model`` Sequentials): the InterHuman model
    with graph layers, or the Inter-X one with an input convolution and ReLU first and an output convolution last."""
    lins = ["lin.weight", "lin.bias", "lin_l.weight", "lin_l.bias", "lin_r.weight"]
    conv = ["weight", "bias"]
    block = [f"conv{c}.{p}" for c in (1, 2) for p in conv]
    first = 0 if graph else 2
    if graph:
        keys = [f"{side}.gcn_layer{n}.{g}" for side in ("encoder", "decoder") for n in (1, 2) for g in lins]
    else:
        keys = [f"encoder.model.0.{p}" for p in conv] + [f"decoder.model.{4 + num_stages}.{p}" for p in conv]
    for i in range(num_stages):
        keys += [f"encoder.model.{first + i}.0.{p}" for p in conv]
        keys += [f"encoder.model.{first + i}.1.model.{k}.{b}" for k in range(depth) for b in block]
        keys += [f"decoder.model.{2 + i}.0.model.{k}.{b}" for k in range(depth) for b in block]
        keys += [f"decoder.model.{2 + i}.2.{p}" for p in conv]
    keys += [f"encoder.model.{first + num_stages}.{p}" for p in conv]
    keys += [f"decoder.model.0.{p}" for p in conv] + [f"decoder.model.{2 + num_stages}.{p}" for p in conv]
    return keys + ["quantizer.layers.0.codebook"]


@pytest.mark.parametrize("layout,graph", [(LAYOUT, True), (INTERX, False)])
def test_official_checkpoint_keys_map_one_to_one_onto_the_model(layout, graph):
    model = small_model(legacy_graph=graph, graph=graph, layout=layout)
    ours = model.state_dict()
    table = vq_key_table(2, graph)
    keys = official_keys(graph=graph)
    mapped = {table.to_ours(key) for key in keys}
    assert mapped == set(ours) - {"quantizer.code_sum", "quantizer.code_count", "quantizer.initialized"}
    # the same tensors under the official names convert strictly, and the EMA restarts from the codebook
    by_official = {key: torch.randn_like(ours[table.to_ours(key)]) for key in keys}
    config, state = convert_vq({"vq_model": by_official})
    assert config["graph"] is graph and config["layout"] == layout.to_dict() and config["width"] == SMALL["width"]
    model = MotionVQVAE.from_config(config)
    model.load_state_dict(state, strict=True)
    stage = 2 - 2 * graph  # the Inter-X encoder's stages follow its input convolution and ReLU
    assert torch.equal(model.encoder.stages[1].resnet.blocks[0].pointwise_conv.weight,
                       by_official[f"encoder.model.{stage + 1}.1.model.0.conv2.weight"])
    assert torch.equal(model.decoder.refine.bias, by_official["decoder.model.4.bias"])
    assert torch.equal(model.quantizer.codebook, by_official["quantizer.layers.0.codebook"])
    assert bool(model.quantizer.initialized)
    assert torch.equal(model.quantizer.code_count, torch.ones(SMALL["num_codes"]))
    with pytest.raises(OfficialCheckpointError, match="unknown.weight"):
        convert_vq({"vq_model": {**by_official, "unknown.weight": torch.zeros(1)}})


def test_paper_size_model_has_the_published_parameter_count():
    model = MotionVQVAE(LAYOUT)  # width 512, code_dim 512, 1024 codes
    encoder = sum(p.numel() for p in model.encoder.parameters())
    decoder = sum(p.numel() for p in model.decoder.parameters())
    # encoder: graph 12->512 (12,956) + graph 512->512 (787,456) + 2 x [4x4 down conv (4,194,816)
    # + 2 residual blocks (2 x 2,622,464)] + 3x3 to_code (2,359,808)
    assert encoder == 22_039_708
    # decoder: from_code + 2 x [2 residual blocks + 3x3 conv] + refine + graph 512->512 + graph 512->12 (274,444)
    assert decoder == 20_991_500
    assert model.quantizer.codebook.shape == (1024, 512)
    assert list(model.parameters()) == list(model.encoder.parameters()) + list(model.decoder.parameters())
    model.eval()
    with torch.no_grad():
        out = model(random_features(1, 8))
    assert out["codes"].shape == (1, 5, 2) and out["recon"].shape == (1, 8, LAYOUT.dim)


def test_on_a_cpu_the_decoder_convolves_in_the_standard_layout():
    model = small_model()
    seen = []
    model.decoder.from_code.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].is_contiguous()))
    model(torch.randn(2, 16, LAYOUT.dim))  # the latent regrouped from code vectors arrives channels-last
    model.decode(torch.randint(0, 8, (2, LAYOUT.num_parts, 4)))
    assert seen == [True, True]


def test_an_empty_batch_with_lengths_encodes_and_decodes_to_empty_tensors():
    model = small_model().eval()
    empty = torch.zeros(0, dtype=torch.long)
    assert model.encode(torch.zeros(0, 16, LAYOUT.dim), empty).shape == (0, LAYOUT.num_parts, 4)
    assert model.decode(torch.zeros(0, LAYOUT.num_parts, 4, dtype=torch.long), empty).shape == (0, 16, LAYOUT.dim)


class _Reconstructs(torch.nn.Module):
    """A stand-in VQ-VAE whose reconstruction is its input moved by ``shift`` (metres, positions only)."""

    def __init__(self, shift: torch.Tensor, std: torch.Tensor):
        super().__init__()
        from types import SimpleNamespace

        self.layout, self.quantizer, self.body_size = LAYOUT, SimpleNamespace(num_codes=4), None
        self.offset = torch.zeros(LAYOUT.dim)
        self.offset[LAYOUT.position] = (shift / std[LAYOUT.position].unflatten(-1, (22, 3))).flatten()

    def forward(self, batch):
        return {"recon": batch + self.offset, "codes": torch.zeros(batch.shape[0], 5, batch.shape[1] // 4).long()}


def test_vq_validation_splits_the_error_into_placement_and_pose_beside_the_mean_features_baselines():
    from intermask.motion.normalize import Normalizer
    from intermask.training.tasks import VQTask

    mean, std = torch.randn(LAYOUT.dim), torch.rand(LAYOUT.dim) + 0.5
    normalizer = Normalizer(mean.numpy(), std.numpy())
    batch = torch.randn(3, 8, LAYOUT.dim)
    whole_body = torch.zeros(22, 3)
    whole_body[:, 0] = 0.2  # every joint 20 cm to the side: placement only
    wrist_only = torch.zeros(22, 3)
    wrist_only[21, 1] = 0.11  # one wrist 11 cm up: pose only
    moved = VQTask(_Reconstructs(whole_body, std), normalizer).validate([batch])
    bent = VQTask(_Reconstructs(wrist_only, std), normalizer).validate([batch])
    assert moved["placement_mm"] == pytest.approx(200, rel=1e-3) and moved["pose_mm"] == pytest.approx(0, abs=1e-2)
    assert moved["mpjpe_mm"] == pytest.approx(200, rel=1e-3)
    assert bent["placement_mm"] == pytest.approx(0, abs=1e-2) and bent["pose_mm"] == pytest.approx(110 / 22, rel=1e-3)
    # the baselines: always predicting the mean features, i.e. the normaliser's mean pose at its mean place
    target = (batch * std + mean)[..., LAYOUT.position].unflatten(-1, (22, 3))
    mean_joints = mean[LAYOUT.position].unflatten(-1, (22, 3))
    assert moved["mean_placement_mm"] == pytest.approx(
        1000 * float((target[..., 0, :] - mean_joints[0]).norm(dim=-1).mean()), rel=1e-4)
    relative = (target - target[..., :1, :]) - (mean_joints - mean_joints[:1])
    assert moved["mean_pose_mm"] == pytest.approx(1000 * float(relative.norm(dim=-1).mean()), rel=1e-4)
