import pytest
import torch

from intermask.models.caption_aligner import CaptionAligner
from intermask.models.masking import transformer_training_loss
from intermask.models.text_motion_evaluators import detail_loss, symmetric_info_nce
from intermask.motion.layout import INTERHUMAN
from helpers.stand_in import tiny_model
from helpers.draws import seeded

ALIGNER = {"weight": 0.3, "detail_weight": 3.0, "width": 8, "hidden": 16, "embed": 8}


def test_a_token_map_is_embedded_from_its_valid_steps_only():
    torch.manual_seed(0)
    aligner = CaptionAligner(num_codes=16, num_parts=5, cond_dim=12, width=8, hidden=16, embed=8)
    ids = torch.randint(0, 16, (2, 2, 5, 6), generator=seeded(0))
    ids[1, ..., 3:] = 17  # padding holds the pad id, beyond the codebook
    lengths = torch.tensor([6, 3])
    embedded = aligner.embed_maps(ids, lengths)
    assert embedded.shape == (2, 8)
    other_padding = ids.clone()
    other_padding[1, ..., 3:] = 5
    torch.testing.assert_close(aligner.embed_maps(other_padding, lengths), embedded)
    other_code = ids.clone()
    other_code[1, 0, 0, 2] = (ids[1, 0, 0, 2] + 1) % 16
    assert not torch.allclose(aligner.embed_maps(other_code, lengths)[1], embedded[1])
    with pytest.raises(ValueError, match=r"token maps must be \(batch, 2, 5, step\)"):
        aligner.embed_maps(ids[:, :, :4], lengths)


def test_the_loss_is_the_weighted_contrastive_term_plus_the_twins_term():
    torch.manual_seed(0)
    aligner = CaptionAligner(num_codes=16, num_parts=5, cond_dim=12, **ALIGNER)
    ids, lengths = torch.randint(0, 16, (4, 2, 5, 6), generator=seeded(1)), torch.tensor([6, 5, 4, 6])
    cond, changed = torch.randn(4, 12), torch.randn(2, 12)
    rows = torch.tensor([0, 2])
    loss, logs = aligner(ids, lengths, cond, rows, changed)
    motion, text, scale = aligner.embed_maps(ids, lengths), aligner.condition(cond), aligner.log_scale.exp()
    contrastive = symmetric_info_nce(text, motion, scale)
    twins = detail_loss(motion[rows], text[rows], aligner.condition(changed), scale)
    torch.testing.assert_close(loss, 0.3 * (contrastive + 3.0 * twins))
    torch.testing.assert_close(logs["align_detail"], twins.detach())
    alone, logs = aligner(ids, lengths, cond)  # no caption in the batch changed by a detail
    torch.testing.assert_close(alone, 0.3 * contrastive)
    assert "align_detail" not in logs


def test_the_twins_term_learns_to_tell_apart_conditions_that_differ_in_one_detail():
    """Two captions that share every word encode almost alike; ranked against each other, each token map comes to
    score its own caption above the twin."""
    torch.manual_seed(0)
    aligner = CaptionAligner(num_codes=16, num_parts=5, cond_dim=12, **ALIGNER)
    ids, lengths = torch.randint(0, 16, (2, 2, 5, 6), generator=seeded(2)), torch.tensor([6, 6])
    caption = torch.randn(12)
    cond = torch.stack([caption, caption + 0.05 * torch.randn(12)])  # row 1's caption: row 0's twin
    rows, changed = torch.tensor([0, 1]), cond.flip(0)

    def preference():
        motion = torch.nn.functional.normalize(aligner.embed_maps(ids, lengths), dim=-1)
        text = torch.nn.functional.normalize(aligner.condition(cond), dim=-1)
        return (motion * text).sum(-1) - (motion * text.flip(0)).sum(-1)  # own minus the twin's, per map

    optimizer = torch.optim.Adam(aligner.parameters(), lr=1e-2)
    for _ in range(150):
        loss, _ = aligner(ids, lengths, cond, rows, changed)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert (preference() > 0.1).all()


def test_the_published_model_has_no_aligner_and_its_objective_is_the_masked_token_loss():
    model = tiny_model(INTERHUMAN).train()
    assert model.aligner is None
    ids, lengths = torch.randint(0, 16, (2, 2, 5, 6), generator=seeded(3)), torch.tensor([6, 4])
    frozen, eot = model.text_encoder.frozen_features(["two people hug", "one waves"])
    torch.manual_seed(0)
    loss, logs = model(ids, frozen, eot, lengths, generator=seeded(4), step_unroll=False)
    torch.manual_seed(0)
    cond = model.condition_from_frozen(frozen, eot)
    expected, _ = transformer_training_loss(model.transformer, ids, cond, lengths, seeded(4), unroll=False)
    torch.testing.assert_close(loss, expected)
    assert "align" not in logs


def test_with_an_aligner_the_model_adds_its_loss_and_its_gradient_reaches_the_text_encoder():
    model = tiny_model(INTERHUMAN, {"caption_aligner": ALIGNER}).train()
    assert isinstance(model.aligner, CaptionAligner)
    texts = ["the first person pushes the second person", "two people hug"]
    ids, lengths = torch.randint(0, 16, (2, 2, 5, 6), generator=seeded(5)), torch.tensor([6, 4])
    frozen, eot = model.text_encoder.frozen_features(texts)
    twin_frozen, twin_eot = model.text_encoder.frozen_features(["the second person pushes the first person"])
    changed = (torch.tensor([0]), twin_frozen, twin_eot)
    torch.manual_seed(0)
    loss, logs = model(ids, frozen, eot, lengths, generator=seeded(6), step_unroll=False, changed=changed)
    torch.manual_seed(0)
    cond = model.condition_from_frozen(frozen, eot)
    masked, _ = transformer_training_loss(model.transformer, ids, cond, lengths, seeded(6), unroll=False)
    aligned, _ = model.aligner(ids, lengths, cond, changed[0], model.condition_from_frozen(twin_frozen, twin_eot))
    torch.testing.assert_close(loss, masked + aligned)
    assert {"align", "align_detail"} <= set(logs)

    model.zero_grad()
    aligned.backward()  # the aligner's term alone
    encoder_grads = [p.grad for p in model.text_encoder.parameters() if p.requires_grad]
    assert any(grad is not None and grad.abs().sum() > 0 for grad in encoder_grads)


def test_the_aligners_weights_are_part_of_the_models_state_and_rebuild_from_its_config():
    model = tiny_model(INTERHUMAN, {"caption_aligner": ALIGNER})
    state = model.state_dict()
    assert any(name.startswith("aligner.") for name in state)
    rebuilt = tiny_model(INTERHUMAN, {"caption_aligner": ALIGNER})
    rebuilt.load_state_dict(state)  # strict: the same modules
    with pytest.raises(RuntimeError, match="aligner"):
        tiny_model(INTERHUMAN).load_state_dict(state)
    with pytest.raises(ValueError, match="weight must be > 0"):
        tiny_model(INTERHUMAN, {"caption_aligner": {**ALIGNER, "weight": 0.0}})


def test_the_training_task_ranks_the_captions_a_detail_changes_and_validation_reports_the_aligner():
    from intermask.motion.augment import swap_person_names
    from intermask.training.tasks import TransformerTask

    model = tiny_model(INTERHUMAN, {"caption_aligner": ALIGNER})
    names = {"names exchanged": lambda text: swap_person_names(text, ("first person", "second person"))}
    task = TransformerTask(model, text_cache=None, caption_changes=names)
    texts = ["two people hug", "the first person waves to the second person", "they dance"]
    rows, frozen, eot = task._changed(texts)
    assert rows.tolist() == [1] and frozen.shape[0] == 1
    expected, _ = model.text_encoder.frozen_features(["the second person waves to the first person"])
    torch.testing.assert_close(frozen, expected)
    assert task._changed(["two people hug"]) is None  # nothing to change

    batch = {"ids": torch.randint(0, 16, (4, 2, 5, 6), generator=seeded(7)), "length_tokens": torch.tensor([6, 6, 5, 4]),
             "text": [*texts, "the second person kicks the first person"]}
    loss, logs = task.training_step(batch, step=0)
    assert torch.isfinite(loss) and {"align", "align_detail"} <= set(logs)
    logs = task.validate([batch])
    assert {"val_align", "val_align_detail", "val_ce"} <= set(logs)

    plain = TransformerTask(tiny_model(INTERHUMAN), text_cache=None, caption_changes=names)
    assert plain._changed(texts) is None  # without an aligner no twin is encoded
