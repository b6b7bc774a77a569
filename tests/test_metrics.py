import numpy as np
import pytest

from intermask.metrics.protocol import (
    EvalBatch,
    ProtocolConfig,
    evaluate,
    format_mean_ci,
    format_table,
    metric_names,
    results_to_json,
)
from intermask.metrics.text_motion import (
    activation_statistics,
    diversity,
    euclidean_distance_matrix,
    frechet_distance,
    matching_score,
    mean_confidence_interval,
    multimodality,
    own_caption_preferred,
    r_precision,
)


def regular_simplex(points: int, distance: float) -> np.ndarray:
    """``points`` points, every two of them ``distance`` apart."""
    return np.eye(points) * distance / np.sqrt(2)


# ---------------------------------------------------------------------------------------------- distances


def test_euclidean_distance_matrix_matches_pairwise_norms(rng):
    a, b = rng.normal(size=(5, 4)), rng.normal(size=(7, 4))
    expected = np.linalg.norm(a[:, None] - b[None], axis=-1)
    np.testing.assert_allclose(euclidean_distance_matrix(a, b), expected, atol=1e-9)


def test_matching_score_is_mean_distance_of_pairs():
    text = np.zeros((2, 2))
    motion = np.array([[3.0, 4.0], [0.0, 1.0]])
    assert matching_score(text, motion) == pytest.approx(3.0)


def test_metrics_reject_nan_embeddings():
    emb = np.ones((4, 3))
    emb[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        matching_score(emb, np.ones((4, 3)))


# ---------------------------------------------------------------------------------------------- R-precision


def test_r_precision_of_identical_well_separated_embeddings_is_one():
    emb = 10 * np.eye(32)
    np.testing.assert_array_equal(r_precision(emb, emb, top_k=3), [32, 32, 32])


def test_r_precision_counts_the_rank_of_each_texts_own_motion():
    # each text's own motion is its second nearest: a miss at k=1, a hit from k=2
    text = np.array([[0.0], [10.0]])
    motion = np.array([[1.0], [0.5]])
    np.testing.assert_array_equal(r_precision(text, motion, top_k=2), [0, 2])


def test_r_precision_counts_ties_by_expectation_so_a_collapsed_model_scores_chance(rng):
    # every motion identical: each text's own motion ties with all 32, so k of 32 hits in expectation
    text = rng.normal(size=(32, 8))
    motion = np.repeat(rng.normal(size=(1, 8)), 32, axis=0)
    np.testing.assert_allclose(r_precision(text, motion, top_k=3), [1.0, 2.0, 3.0])
    # text 0 (at 0): its own motion (1) and the other (-1) tie at distance 1 -> half a hit at k=1, one at k=2;
    # text 1 (at 100): the other motion is closer -> a miss at k=1, a hit at k=2
    np.testing.assert_allclose(r_precision(np.array([[0.0], [100.0]]), np.array([[1.0], [-1.0]]), top_k=2),
                               [0.5, 2.0])


def test_r_precision_of_random_embeddings_is_k_over_batch_size(rng):
    batch, batches = 32, 400
    hits = sum(r_precision(rng.normal(size=(batch, 8)), rng.normal(size=(batch, 8))) for _ in range(batches))
    rate = hits / (batch * batches)
    # binomial std of each rate is below 0.0025 here
    np.testing.assert_allclose(rate, np.arange(1, 4) / batch, atol=0.008)


# ---------------------------------------------------------------------------------------------- FID


def test_fid_of_a_set_against_itself_is_zero(rng):
    stats = activation_statistics(rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6)))
    assert abs(frechet_distance(*stats, *stats)) < 1e-6


def test_fid_of_diagonal_gaussians_matches_the_closed_form(rng):
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    var1, var2 = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    expected = ((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum()
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-7)


def test_fid_of_singular_covariances_stays_finite():
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 2.0])
    rank_one = np.outer([1.0, 0, 0], [1.0, 0, 0])
    value = frechet_distance(mu1, rank_one, mu2, np.zeros((3, 3)))
    assert np.isfinite(value)
    assert value == pytest.approx(9.0 + 1.0, abs=1e-4)


def test_fid_grows_with_the_shift_between_sets(rng):
    base = rng.normal(size=(300, 4))
    stats = activation_statistics(base)
    near = frechet_distance(*activation_statistics(base + 0.1), *stats)
    far = frechet_distance(*activation_statistics(base + 1.0), *stats)
    assert near == pytest.approx(4 * 0.01, rel=1e-6) and far == pytest.approx(4 * 1.0, rel=1e-6)


# ---------------------------------------------------------------------------------------------- diversity, MModality


def test_diversity_of_a_regular_simplex_is_the_edge_length_except_self_pairs():
    # index sets drawn without replacement from 10 points: on average 1 of 10 pairs joins a point to itself
    points, distance = 10, 2.0
    values = [diversity(regular_simplex(points, distance), num_pairs=points, rng=np.random.default_rng(seed))
              for seed in range(400)]
    assert np.mean(values) == pytest.approx(distance * (1 - 1 / points), abs=0.02)
    assert max(values) <= distance + 1e-9


def test_diversity_scales_by_emb_scale_over_divide_by(rng):
    emb = rng.normal(size=(50, 6))
    plain = diversity(emb, num_pairs=40, rng=np.random.default_rng(3))
    scaled = diversity(emb, num_pairs=40, rng=np.random.default_rng(3), emb_scale=6, divide_by=2)
    assert scaled == pytest.approx(3 * plain)


def test_diversity_refuses_fewer_embeddings_than_pairs(rng):
    with pytest.raises(ValueError, match="300"):
        diversity(rng.normal(size=(100, 4)), num_pairs=300, rng=rng)


def test_multimodality_of_identical_samples_is_zero(rng):
    emb = np.repeat(rng.normal(size=(5, 1, 8)), 30, axis=1)
    assert multimodality(emb, num_pairs=10, rng=rng) == 0.0


def test_multimodality_of_simplex_samples_matches_edge_length():
    samples, distance = 12, 1.5
    emb = np.stack([regular_simplex(samples, distance)] * 4)  # (text, sample, dim)
    values = [multimodality(emb, num_pairs=samples, rng=np.random.default_rng(seed), emb_scale=6, divide_by=2)
              for seed in range(400)]
    assert np.mean(values) == pytest.approx(3 * distance * (1 - 1 / samples), abs=0.05)


def test_mean_confidence_interval_uses_population_std():
    mean, ci = mean_confidence_interval([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert ci == pytest.approx(1.96 * np.sqrt(1.25) / 2)


# ---------------------------------------------------------------------------------------------- protocol


def toy_world(items=64, dim=6, shift=0.0, noise=0.05, with_joints=True):
    """A test set of ``items`` latent codes; text and motion embeddings are noisy copies of them.

    ``shift`` moves the generated motions away from the real ones, as a worse model would.
    """
    codes = np.random.default_rng(123).normal(size=(items, dim))
    frames = 6
    person = np.zeros((frames, 22, 3))
    person[..., 1] = np.linspace(0, 1.6, 22)[None]  # a standing column of joints above the floor

    def batches(rng, generated):
        order = rng.permutation(items)
        for start in range(0, items, 20):  # batches of 20 that the protocol re-chunks
            idx = order[start:start + 20]
            text = codes[idx] + noise * rng.normal(size=(len(idx), dim))
            motion = codes[idx] + noise * rng.normal(size=(len(idx), dim)) + (shift if generated else 0.0)
            joints = np.stack([np.stack([person, person + [2.0, 0, 0]])] * len(idx)) if with_joints else None
            yield EvalBatch(text=text, motion=motion, lengths=np.full(len(idx), frames), joints=joints)

    def mm_fn(rng, num_texts, num_samples):
        return codes[:num_texts, None] + noise * rng.normal(size=(num_texts, num_samples, dim))

    return (lambda rng: batches(rng, False)), (lambda rng: batches(rng, True)), mm_fn


def embed(batch):
    return batch.text, batch.motion


SMALL = ProtocolConfig(batch_size=16, replications=3, emb_scale=6, divide_by=2, diversity_pairs=32,
                       mm_num_texts=5, mm_num_samples=8, mm_pairs=4, seed=7)


def test_protocol_returns_mean_and_ci_for_both_rows_and_every_metric():
    gt_fn, gen_fn, mm_fn = toy_world(shift=1.0)
    results = evaluate(SMALL, gt_fn, gen_fn, embed, mm_fn, progress=False)
    rows = results["rows"]
    assert set(rows) == {"ground truth", "model"}
    for row in rows.values():
        assert tuple(row) == metric_names(3)
    assert rows["ground truth"]["MModality"] is None
    for name, row in rows.items():
        for metric, value in row.items():
            if value is not None:
                assert len(value) == 2 and np.all(np.isfinite(value)), (name, metric)
    assert all(len(v) == 3 for v in results["replications"]["model"].values())
    # clean, well separated toy embeddings: matched pairs are found, the shifted model has a large FID
    assert rows["ground truth"]["R@1"][0] > 0.9
    assert rows["ground truth"]["FID"][0] < 0.5
    assert rows["model"]["FID"][0] == pytest.approx(6 ** 2 * 6 * 1.0, rel=0.1)  # (emb_scale · shift)² per dim
    assert rows["model"]["penetration_ratio"] == (0.0, 0.0)


def test_protocol_is_reproducible_from_its_seed():
    gt_fn, gen_fn, mm_fn = toy_world(shift=0.3)
    first = evaluate(SMALL, gt_fn, gen_fn, embed, mm_fn, progress=False)
    second = evaluate(SMALL, gt_fn, gen_fn, embed, mm_fn, progress=False)
    assert first["rows"] == second["rows"]


def test_protocol_without_joints_or_mm_leaves_those_metrics_empty():
    gt_fn, gen_fn, _ = toy_world(with_joints=False)
    rows = evaluate(SMALL, gt_fn, gen_fn, embed, progress=False)["rows"]
    assert rows["model"]["MModality"] is None and rows["model"]["jitter"] is None
    assert rows["model"]["R@3"] is not None


def test_protocol_without_a_model_measures_the_same_ground_truth_row_and_nothing_else():
    gt_fn, gen_fn, mm_fn = toy_world()
    calls = []

    def counted_gt(rng):
        calls.append(1)
        return gt_fn(rng)

    alone = evaluate(SMALL, counted_gt, None, embed, mm_fn, progress=False)
    assert list(alone["rows"]) == ["ground truth"] and len(calls) == 2 * SMALL.replications
    with_model = evaluate(SMALL, gt_fn, gen_fn, embed, mm_fn, progress=False)
    assert alone["rows"]["ground truth"] == with_model["rows"]["ground truth"]


def test_protocol_refuses_a_pass_shorter_than_one_batch():
    gt_fn, gen_fn, _ = toy_world(items=10)
    with pytest.raises(ValueError, match=r"fewer than one evaluation batch .*protocol.batch_size .* at most 10"):
        evaluate(SMALL, gt_fn, gen_fn, embed, progress=False)


def test_protocol_refuses_fewer_items_than_diversity_pairs_and_names_the_setting():
    gt_fn, gen_fn, _ = toy_world(items=20)  # one whole batch of 16, fewer than SMALL's 32 pairs
    with pytest.raises(ValueError, match=r"16 items .*protocol.diversity_pairs .* at most 16"):
        evaluate(SMALL, gt_fn, gen_fn, embed, progress=False)


def test_format_table_and_json_show_every_row():
    gt_fn, gen_fn, mm_fn = toy_world(shift=1.0)
    results = evaluate(SMALL, gt_fn, gen_fn, embed, mm_fn, progress=False)
    table = format_table(results).splitlines()
    assert table[0].startswith("| | R@1 | R@2 | R@3 | FID | MM Dist | Diversity | MModality |")
    assert table[2].startswith("| ground truth |") and table[3].startswith("| model |")
    assert "–" in table[2] and "±" in table[3]
    import json
    parsed = json.loads(results_to_json(results))
    assert parsed["rows"]["model"]["FID"]["mean"] == pytest.approx(results["rows"]["model"]["FID"][0])
    assert parsed["rows"]["ground truth"]["MModality"] is None


def test_format_mean_ci_keeps_a_significant_digit_of_small_intervals():
    assert format_mean_ci(0.452, 0.008) == "0.452±0.008"
    assert format_mean_ci(0.002, 0.0002) == "0.0020±0.0002"
    assert format_mean_ci(0.0, 1e-17) == "0.000±0.000"


def test_protocol_config_rejects_nonsense():
    with pytest.raises(ValueError, match="batch_size"):
        ProtocolConfig(batch_size=0)
    with pytest.raises(ValueError, match=r"mm_pairs \(9\) exceeds mm_num_samples \(8\)"):
        ProtocolConfig(mm_num_samples=8, mm_pairs=9)


def test_the_reference_pass_feeds_fid_only_not_the_physical_metrics(monkeypatch):
    from intermask.metrics import protocol

    gt_fn, gen_fn, _ = toy_world(with_joints=True)
    measured = []
    add_batch = protocol.PhysicalMetrics.add_batch
    monkeypatch.setattr(protocol.PhysicalMetrics, "add_batch",
                        lambda self, joints, lengths: measured.append(len(joints)) or add_batch(self, joints, lengths))
    batches_per_pass = sum(1 for _ in gt_fn(np.random.default_rng(0)))
    evaluate(SMALL, gt_fn, gen_fn, embed, progress=False)
    # per replication: the ground-truth pass and the generated pass, not the reference pass
    assert len(measured) == 2 * batches_per_pass * SMALL.replications


def test_multimodality_can_be_measured_in_the_first_replications_only():
    import dataclasses

    gt_fn, gen_fn, mm_fn = toy_world(shift=0.3)
    calls = []

    def counted(rng, num_texts, num_samples):
        calls.append(num_texts)
        return mm_fn(rng, num_texts, num_samples)

    every = evaluate(SMALL, gt_fn, gen_fn, embed, counted, progress=False)
    assert len(calls) == 3 and len(every["replications"]["model"]["MModality"]) == 3
    calls.clear()
    once = evaluate(dataclasses.replace(SMALL, mm_replications=1), gt_fn, gen_fn, embed, counted, progress=False)
    first = every["replications"]["model"]["MModality"][:1]
    assert len(calls) == 1 and once["replications"]["model"]["MModality"] == first
    assert once["rows"]["model"]["R@3"] == every["rows"]["model"]["R@3"]  # the rest as before
    with pytest.raises(ValueError, match="mm_replications must lie in"):
        dataclasses.replace(SMALL, mm_replications=4)


def test_own_caption_preferred_counts_the_motions_closer_in_angle_to_their_own_caption_than_to_its_twin():
    motion = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    own = np.array([[3.0, 0.1], [1.0, 0.0], [2.0, 2.0]])  # cosine, not length: row 0's own is long but aligned
    changed = np.array([[0.5, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # row 0: both point along the motion (own 0.9994 < changed 1.0); row 1: the twin is the motion's direction; row 2:
    # a tie is not a win
    assert own_caption_preferred(motion, own, changed) == 0
    assert own_caption_preferred(motion, changed, own) == 2
    assert own_caption_preferred(motion, motion, -motion) == 3
    assert own_caption_preferred(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, 2))) == 0
    with pytest.raises(ValueError, match="row by row"):
        own_caption_preferred(motion, own[:2], changed)
    with pytest.raises(ValueError, match="NaN"):
        own_caption_preferred(motion, own, changed * np.nan)
