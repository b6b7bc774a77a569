import pytest
import torch

from intermask.models.masking import transformer_training_loss
from intermask.models.pair_geometry import PairGeometryTerm, pair_distances
from intermask.motion.layout import INTERHUMAN
from helpers.stand_in import tiny_model
from helpers.draws import seeded

GEOMETRY = {"weight": 2.0, "window": 4, "reach": 0.5}


def two_people(offset: float) -> torch.Tensor:
    """Joints (1, 2, frame=4, joint=3, 3): person 2 is person 1 moved ``offset`` metres along x."""
    one = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.5, 0.0], [0.3, 1.2, 0.0]]).expand(4, 3, 3)
    return torch.stack([one, one + torch.tensor([offset, 0.0, 0.0])])[None]


def test_the_distance_table_holds_each_joint_of_one_person_to_each_of_the_other():
    table = pair_distances(two_people(2.0))
    assert table.shape == (1, 4, 3, 3)
    torch.testing.assert_close(table[0, 0].diagonal(), torch.full((3,), 2.0))
    torch.testing.assert_close(table[0, 0, 2, 0], torch.tensor(1.7).hypot(torch.tensor(0.2)))
    joints = two_people(0.0).requires_grad_()
    pair_distances(joints).sum().backward()  # two joints in one place: a gradient, not NaN
    assert torch.isfinite(joints.grad).all()


def check_term(logits, ids, mask, lengths, codebook, decode, seed=0):
    return PairGeometryTerm(**GEOMETRY)(logits, mask, ids, lengths, codebook, decode, seeded(seed))


def placing_decoder(codebook_size=4):
    """Code vectors (b, part=1, step, 1) -> joints (b, 4 step, 3, 3): code k puts the person at x = k / 4 m; the
    codebook is the places themselves, so a blend of codes is the blend of places."""
    codebook = torch.arange(codebook_size, dtype=torch.float32)[:, None] / 4

    def decode(vectors):
        x = vectors[:, 0, :, 0].repeat_interleave(4, dim=1)  # b f
        base = torch.tensor([[0.0, 1.0, 0.0], [0.05, 1.0, 0.0], [0.1, 1.0, 0.0]])  # in a row along x
        return base + torch.stack([x, torch.zeros_like(x), torch.zeros_like(x)], -1)[:, :, None]
    return codebook, decode


def test_confident_right_predictions_cost_nothing_and_wrong_ones_pay_for_the_distance_they_get_wrong():
    codebook, decode = placing_decoder()
    ids = torch.tensor([[[[0, 0, 0, 0]], [[2, 2, 2, 2]]]])  # person 2 half a metre from person 1
    lengths, mask = torch.tensor([4]), torch.ones(1, 2, 1, 4, dtype=torch.bool)
    right = torch.nn.functional.one_hot(ids, 6).float() * 50  # v = codes + mask and pad ids
    loss, logs = check_term(right, ids, mask, lengths, codebook, decode)
    assert float(loss) == pytest.approx(0.0, abs=1e-4)
    closer = torch.nn.functional.one_hot(torch.tensor([[[[0] * 4], [[1] * 4]]]), 6).float() * 50
    loss, logs = check_term(closer.requires_grad_(), ids, mask, lengths, codebook, decode)
    assert float(logs["pair_geometry"]) == pytest.approx(0.25, abs=1e-3)  # each close pair 25 cm nearer
    assert float(loss.detach()) == pytest.approx(2.0 * 0.25, abs=2e-3)
    known = mask.clone()
    known[:, 1] = False  # person 2's tokens given: only person 1's predictions count, and they are right
    loss, _ = check_term(closer, ids, known, lengths, codebook, decode)
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-4)


def test_people_far_apart_in_both_leave_the_term_at_zero_and_its_gradient_moves_the_blend_toward_the_truth():
    codebook, decode = placing_decoder(16)
    ids = torch.tensor([[[[0] * 4], [[12] * 4]]])  # 3 m apart
    lengths, mask = torch.tensor([4]), torch.ones(1, 2, 1, 4, dtype=torch.bool)
    far_wrong = torch.nn.functional.one_hot(torch.tensor([[[[0] * 4], [[8] * 4]]]), 18).float() * 50  # 2 m
    loss, _ = check_term(far_wrong, ids, mask, lengths, codebook, decode)
    assert float(loss) == 0.0  # no pair within reach in either: placement at a distance is left to the tokens
    logits = torch.zeros(1, 2, 1, 4, 18, requires_grad=True)  # a flat blend: person 2 at the codebook's mean
    mask[:, 0] = False  # person 1 given
    check_term(logits, torch.tensor([[[[0] * 4], [[1] * 4]]]), mask, lengths, codebook, decode)[0].backward()
    # the truth (code 1) is 0.25 m away, the blend 1.875 m: the gradient raises person 2's near codes, lowers the far
    grad = logits.grad[0, 1, 0, 0, :16]
    assert grad[0] < 0 < grad[15]


def test_the_window_is_a_stretch_of_valid_steps():
    term = PairGeometryTerm(window=3)
    steps = term.windows(torch.tensor([3, 10, 5]), seeded(1))
    assert steps.shape == (3, 3)
    assert steps[0].tolist() == [0, 1, 2]
    assert (steps[:, 1:] - steps[:, :-1] == 1).all()
    assert (steps[1] < 10).all() and (steps[2] < 5).all()
    assert PairGeometryTerm(window=8).windows(torch.tensor([5, 6]), seeded(1)).shape == (2, 5)  # shorter than 8
    with pytest.raises(ValueError, match="weight and reach must be > 0"):
        PairGeometryTerm(reach=0.0)


def test_the_model_adds_the_term_to_the_masked_token_loss_and_rebuilds_without_new_weights():
    model = tiny_model(INTERHUMAN, {"pair_geometry": GEOMETRY}).train()
    assert isinstance(model.pair_geometry, PairGeometryTerm)
    ids, lengths = torch.randint(0, 16, (2, 2, 5, 6), generator=seeded(5)), torch.tensor([6, 5])
    frozen, eot = model.text_encoder.frozen_features(["two people hug", "one waves"])
    torch.manual_seed(0)
    loss, logs = model(ids, frozen, eot, lengths, generator=seeded(6), step_unroll=False)
    torch.manual_seed(0)
    cond = model.condition_from_frozen(frozen, eot)
    masked, plain_logs = transformer_training_loss(model.transformer, ids, cond, lengths, seeded(6), unroll=False)
    assert logs["ce"] == plain_logs["ce"]  # the term draws its windows after the masks
    assert logs["pair_geometry"] > 0, "the tiny model decodes people close enough to compare"
    torch.testing.assert_close(loss, masked + 2.0 * torch.tensor(logs["pair_geometry"]), atol=1e-5, rtol=1e-5)
    model.zero_grad()
    loss.backward()
    assert all(p.grad is None for p in model.vq.parameters())  # the tokenizer stays frozen
    assert tiny_model(INTERHUMAN).state_dict().keys() == model.state_dict().keys()
