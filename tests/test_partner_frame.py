"""The partner frame: a pair's second person coded relative to the first's root (intermask/motion/partner.py), and
the tokenizer, its loss and the interaction model that honour it."""
import pytest
import torch
from helpers.draws import seeded

from intermask.motion.features import velocities_from_positions
from intermask.motion.layout import INTERHUMAN, INTERX
from intermask.motion.partner import from_partner_frame, to_partner_frame

LAYOUT = INTERHUMAN


def world_pair(frames: int = 12, seed: int = 0) -> torch.Tensor:
    """Raw pair features (1, 2, frames, 262) whose velocities are their positions' frame differences."""
    features = torch.randn(1, 2, frames, LAYOUT.dim, generator=seeded(seed))
    return velocities_from_positions(features, torch.tensor([frames]), LAYOUT)


def test_the_partner_frame_moves_only_the_second_person_s_positions_and_velocities_on_the_ground():
    world = world_pair()
    partner = to_partner_frame(world, LAYOUT)
    assert torch.equal(partner[:, 0], world[:, 0])
    root = world[0, 0, :, :3]
    second_world = world[0, 1, :, LAYOUT.position].unflatten(-1, (22, 3))
    second = partner[0, 1, :, LAYOUT.position].unflatten(-1, (22, 3))
    torch.testing.assert_close(second[..., 0], second_world[..., 0] - root[:, None, 0])
    torch.testing.assert_close(second[..., 2], second_world[..., 2] - root[:, None, 2])
    assert torch.equal(second[..., 1], second_world[..., 1])  # heights stay
    rest = torch.ones(LAYOUT.dim, dtype=torch.bool)
    rest[LAYOUT.position] = rest[LAYOUT.velocity] = False
    assert torch.equal(partner[0, 1, :, rest], world[0, 1, :, rest])  # rotations and foot contacts stay
    # the velocities still are the positions' frame differences: the second person's motion beside the first
    frames = torch.tensor([world.shape[2]])
    torch.testing.assert_close(velocities_from_positions(partner, frames, LAYOUT)[..., :-1, :], partner[..., :-1, :])
    torch.testing.assert_close(from_partner_frame(partner, LAYOUT), world)


def test_the_partner_frame_needs_pairs_and_positions():
    with pytest.raises(ValueError, match="pairs"):
        to_partner_frame(torch.zeros(3, 4, LAYOUT.dim), LAYOUT)
    with pytest.raises(ValueError, match="positions"):
        to_partner_frame(torch.zeros(1, 2, 4, INTERX.dim), INTERX)


def test_the_tokenizer_keeps_its_partner_frame_in_its_config_and_refuses_it_without_positions():
    from intermask.models.vqvae import MotionVQVAE

    vq = MotionVQVAE(width=16, code_dim=8, num_codes=8, depth=1, partner_frame=True)
    assert MotionVQVAE.from_config(vq.config).partner_frame
    assert not MotionVQVAE(width=16, code_dim=8, num_codes=8, depth=1).partner_frame
    legacy = dict(vq.config)
    del legacy["partner_frame"]  # a checkpoint from before the option: the world frame
    assert not MotionVQVAE.from_config(legacy).partner_frame
    with pytest.raises(ValueError, match="positions"):
        MotionVQVAE(INTERX, width=16, code_dim=8, num_codes=8, depth=1, graph=False, partner_frame=True)


def test_the_separation_term_of_a_partner_frame_batch_is_the_world_frame_s():
    from intermask.metrics.physical import COLLIDERS
    from intermask.models.losses import VQLossWeights, vq_total_loss
    from intermask.motion import skeleton
    from intermask.motion.rotation import matrix_to_rot6d

    rest = torch.as_tensor(skeleton.rest_pose(), dtype=torch.float32)
    def pair(gap, walk):  # two rest poses walking along x together, the second ``gap`` m beside the first
        steps = torch.arange(4.0)[:, None, None] * torch.tensor([walk, 0.0, 0.0])
        people = torch.stack([rest + steps, rest + steps + torch.tensor([gap, 0.0, 0.0])])  # (2, 4, 22, 3)
        features = torch.zeros(2, 4, LAYOUT.dim)
        features[..., LAYOUT.position] = people.flatten(-2)
        features[..., LAYOUT.rotation] = matrix_to_rot6d(torch.eye(3)).repeat(21)
        return features
    mean, std, zero = torch.zeros(LAYOUT.dim), torch.ones(LAYOUT.dim), torch.tensor(0.0)
    weights = VQLossWeights(separation=1.0)
    target, pred = pair(0.6, 0.3), pair(0.1, 0.3)
    _, world = vq_total_loss(pred, target, zero, mean, std, LAYOUT, weights, capsules=COLLIDERS)
    as_partner = [to_partner_frame(x[None], LAYOUT)[0] for x in (pred, target)]
    _, partner = vq_total_loss(*as_partner, zero, mean, std, LAYOUT, weights, capsules=COLLIDERS, partner_frame=True)
    assert world["separation"].item() > 0
    assert partner["separation"].item() == pytest.approx(world["separation"].item(), rel=1e-5)
    # read as world features, the partner-frame pair would put the second person on the first
    _, misread = vq_total_loss(*as_partner, zero, mean, std, LAYOUT, weights, capsules=COLLIDERS)
    assert misread["separation"].item() != pytest.approx(world["separation"].item(), rel=1e-2)


def interaction_model(partner_frame: bool, **config):
    from intermask.generation.interaction_model import InterMask
    from intermask.models.text import TextEncoder
    from intermask.models.transformer import InterMTransformer
    from intermask.models.vqvae import MotionVQVAE
    from intermask.official.weights import WidthOnlyBackbone

    torch.manual_seed(0)
    vq = MotionVQVAE(width=16, code_dim=24, num_codes=16, depth=1, partner_frame=partner_frame)
    vq.quantizer.set_codebook(torch.randn(16, 24))
    transformer = InterMTransformer(num_codes=16, num_parts=5, max_time=8, token_dim=24, dim=32, depth=1, heads=2,
                                    ff_dim=32, text_dim=12)
    text = TextEncoder(WidthOnlyBackbone(12), num_layers=1, heads=2, ff_dim=16)
    mean, std = torch.randn(LAYOUT.dim, generator=seeded(1)), torch.rand(LAYOUT.dim, generator=seeded(2)) + 0.5
    return InterMask(vq, transformer, text, mean, std, config).eval()


def test_the_interaction_model_codes_the_second_person_beside_the_first_and_decodes_it_back_in_the_world():
    model, plain = interaction_model(True), interaction_model(False)
    plain.vq.load_state_dict(model.vq.state_dict())  # one tokenizer, read in the two frames
    world = world_pair(24)
    motion = model.normalize(world)
    lengths = torch.tensor([24])
    ids = model.tokenize(motion, lengths)
    assert torch.equal(ids, plain.tokenize(model.normalize(to_partner_frame(world, LAYOUT)), lengths))
    steps = torch.tensor([6])
    decoded = model.denormalize(model.decode(ids, steps))
    torch.testing.assert_close(decoded, from_partner_frame(plain.denormalize(plain.decode(ids, steps)), LAYOUT))
    # frames past a clip's length stay zero (normalised), as every decoder's
    short = model.decode(ids, torch.tensor([3]))
    assert (short[:, :, 12:] == 0).all() and not (short[:, :, :12] == 0).all()


def test_the_pair_geometry_term_is_refused_beside_a_partner_frame_tokenizer():
    with pytest.raises(ValueError, match="partner_frame"):
        interaction_model(True, pair_geometry={"weight": 0.5})
