import math

import pytest
import torch

from intermask.models.quantizer import EMAQuantizer, perplexity_of


def fresh_quantizer(num_codes=8, code_dim=4, **kwargs):
    return EMAQuantizer(num_codes=num_codes, code_dim=code_dim, **kwargs).train()


def test_codebook_is_a_state_dict_buffer_named_codebook_of_shape_codes_by_dim():
    quantizer = EMAQuantizer(num_codes=16, code_dim=3)
    state = quantizer.state_dict()
    assert state["codebook"].shape == (16, 3)
    assert {"codebook", "code_sum", "code_count", "initialized"} <= set(state)
    assert not any(p.requires_grad for p in quantizer.parameters())


def test_first_training_batch_initialises_the_codebook_by_tiling_with_small_noise():
    torch.manual_seed(0)
    quantizer = fresh_quantizer(num_codes=8, code_dim=4, legacy_reset=True)
    vectors = torch.randn(3, 4)
    quantizer.initialize(vectors)
    expected = vectors.repeat(3, 1)[:8]
    deviation = (quantizer.codebook - expected).abs()
    assert deviation.max() < 5 * 0.01 / math.sqrt(4)
    assert deviation.max() > 0  # the jitter makes repeated rows distinct codes
    assert bool(quantizer.initialized)
    assert torch.equal(quantizer.code_count, torch.ones(8))


def test_random_initialisation_picks_distinct_batch_vectors_when_there_are_enough():
    torch.manual_seed(0)
    quantizer = fresh_quantizer(num_codes=8, code_dim=4)
    vectors = torch.randn(50, 4)
    quantizer.initialize(vectors)
    rows = [int((vectors == code).all(-1).nonzero()[0]) for code in quantizer.codebook]
    assert len(set(rows)) == 8
    assert rows != list(range(8))


def test_initialisation_happens_only_once_and_later_batches_follow_the_ema():
    torch.manual_seed(0)
    quantizer = fresh_quantizer(num_codes=8, code_dim=4, stochastic=False)
    quantizer(torch.randn(64, 4))
    count_before = quantizer.code_count.clone()
    far_away = torch.randn(64, 4) + 100.0
    _, codes, _, _ = quantizer(far_away)
    batch_counts = torch.bincount(codes, minlength=8).float()
    torch.testing.assert_close(quantizer.code_count, 0.99 * count_before + 0.01 * batch_counts)


def test_eval_mode_neither_initialises_nor_updates_the_codebook():
    quantizer = EMAQuantizer(num_codes=8, code_dim=4).eval()
    quantizer(torch.randn(20, 4))
    assert not bool(quantizer.initialized)
    assert torch.count_nonzero(quantizer.codebook) == 0


def test_ema_moves_each_used_code_to_the_running_mean_of_its_vectors():
    quantizer = fresh_quantizer(num_codes=2, code_dim=2, stochastic=False)
    quantizer.set_codebook(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]])
    _, codes, _, _ = quantizer(vectors)
    assert codes.tolist() == [0, 0, 1]
    # sum = 0.99 * old + 0.01 * batch sum, count = 0.99 + 0.01 * n
    expected0 = (0.01 * torch.tensor([1.0, 1.0])) / (0.99 + 0.02)
    expected1 = (0.99 * torch.tensor([10.0, 10.0]) + 0.01 * torch.tensor([9.0, 9.0])) / (0.99 + 0.01)
    torch.testing.assert_close(quantizer.codebook, torch.stack([expected0, expected1]))


def test_dead_codes_are_reset_to_random_vectors_of_the_current_batch():
    torch.manual_seed(0)
    quantizer = fresh_quantizer(num_codes=8, code_dim=3, stochastic=False)
    quantizer.set_codebook(torch.cat([torch.zeros(1, 3), torch.full((7, 3), 50.0)]))
    vectors = torch.randn(100, 3) * 0.1  # all nearest to code 0: codes 1..7 become dead
    quantizer(vectors)
    revived = quantizer.codebook[1:]
    rows = [int((vectors == code).all(-1).nonzero()[0]) for code in revived]
    assert len(set(rows)) == 7
    assert rows != list(range(1, 8))  # not simply the first rows of the batch


def test_legacy_reset_revives_dead_codes_with_the_first_batch_rows():
    quantizer = fresh_quantizer(num_codes=8, code_dim=3, stochastic=False, legacy_reset=True)
    quantizer.set_codebook(torch.cat([torch.zeros(1, 3), torch.full((7, 3), 50.0)]))
    vectors = torch.randn(100, 3) * 0.1
    quantizer(vectors)
    torch.testing.assert_close(quantizer.codebook[1:], vectors[1:8])


def test_eval_assignment_is_the_nearest_code_and_training_assignment_is_sampled():
    torch.manual_seed(0)
    quantizer = EMAQuantizer(num_codes=16, code_dim=4, gumbel_temperature=50.0)
    quantizer.set_codebook(torch.randn(16, 4))
    vectors = torch.randn(200, 4)
    nearest = quantizer.distances(vectors).argmin(-1)
    quantizer.eval()
    _, eval_codes, _, _ = quantizer(vectors)
    assert torch.equal(eval_codes, nearest)
    assert torch.equal(quantizer.encode(vectors), nearest)
    quantizer.train()
    codebook = quantizer.codebook.clone()
    _, train_codes, _, _ = quantizer(vectors)
    assert (train_codes != nearest).any()
    quantizer.set_codebook(codebook)
    quantizer.stochastic = False
    _, deterministic_codes, _, _ = quantizer(vectors)
    assert torch.equal(deterministic_codes, nearest)


def test_straight_through_passes_the_gradient_unchanged_and_commit_pulls_towards_the_code():
    quantizer = EMAQuantizer(num_codes=4, code_dim=2).eval()
    quantizer.set_codebook(torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, 1.0], [5.0, 5.0]]))
    z = torch.tensor([[0.2, 0.1], [0.9, 1.3]], requires_grad=True)
    quantized, codes, commit_loss, _ = quantizer(z)
    assert codes.tolist() == [0, 1]
    torch.testing.assert_close(quantized, torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    quantized.sum().backward()
    torch.testing.assert_close(z.grad, torch.ones_like(z))
    expected_commit = ((torch.tensor([[0.2, 0.1], [-0.1, 0.3]])) ** 2).mean()
    torch.testing.assert_close(commit_loss, expected_commit)


def test_quantizer_keeps_the_leading_shape_of_its_input():
    quantizer = fresh_quantizer(num_codes=8, code_dim=4)
    quantized, codes, _, _ = quantizer(torch.randn(2, 3, 5, 4))
    assert quantized.shape == (2, 3, 5, 4)
    assert codes.shape == (2, 3, 5)
    assert codes.dtype == torch.long


def test_state_dict_round_trip_restores_training_exactly():
    torch.manual_seed(0)
    original = fresh_quantizer(num_codes=8, code_dim=4)
    for _ in range(3):
        original(torch.randn(40, 4))
    resumed = fresh_quantizer(num_codes=8, code_dim=4)
    resumed.load_state_dict(original.state_dict())
    for name, buffer in original.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], buffer), name
    assert bool(resumed.initialized)
    batch = torch.randn(40, 4)
    torch.manual_seed(1)
    out_original = original(batch)
    torch.manual_seed(1)
    out_resumed = resumed(batch)
    assert torch.equal(out_original[1], out_resumed[1])
    assert torch.equal(original.codebook, resumed.codebook)


def test_pad_and_mask_ids_decode_to_zero_vectors_and_negative_ids_are_rejected():
    quantizer = EMAQuantizer(num_codes=4, code_dim=2)
    quantizer.set_codebook(torch.arange(8.0).reshape(4, 2))
    vectors = quantizer.decode(torch.tensor([[3, 4, 5, 0]]))
    torch.testing.assert_close(vectors, torch.tensor([[[6.0, 7.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0]]]))
    with pytest.raises(ValueError, match=">= 0"):
        quantizer.decode(torch.tensor([-1]))
    with pytest.raises(ValueError, match="integer"):
        quantizer.decode(torch.tensor([1.0]))


def test_wrong_vector_size_is_rejected_with_the_expected_size():
    with pytest.raises(ValueError, match="4"):
        EMAQuantizer(num_codes=8, code_dim=4)(torch.randn(10, 3))


def test_perplexity_is_one_for_a_single_code_and_the_codebook_size_for_uniform_use():
    torch.testing.assert_close(perplexity_of(torch.tensor([0.0, 12.0, 0.0, 0.0])), torch.tensor(1.0),
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(perplexity_of(torch.full((8,), 3.0)), torch.tensor(8.0), atol=1e-3, rtol=0)


def test_batch_usage_and_running_usage_count_the_codes_used():
    quantizer = EMAQuantizer(num_codes=4, code_dim=1).eval()
    quantizer.set_codebook(torch.tensor([[0.0], [1.0], [2.0], [3.0]]))
    _, _, _, stats = quantizer(torch.tensor([[0.1], [0.9]]))
    assert stats["usage"].item() == pytest.approx(0.5)
    quantizer(torch.tensor([[2.1]]))
    assert quantizer.running_usage() == pytest.approx(0.75)
    quantizer.reset_running_usage()
    assert quantizer.running_usage() == 0.0


DDP_WORKER = """
import sys, torch, torch.distributed as dist
from intermask.models.quantizer import EMAQuantizer
dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(rank)  # each process initialises from its own batch and its own random picks
quantizer = EMAQuantizer(num_codes=8, code_dim=4, stochastic=False).train()
batches = torch.randn(2, 2, 20, 4, generator=torch.Generator().manual_seed(7))  # (rank, step, vector, dim)
quantizer.initialize(batches[rank, 0])
initial = quantizer.codebook.clone()
quantizer(batches[rank, 1])
torch.save({"initial": initial, "code_sum": quantizer.code_sum, "code_count": quantizer.code_count,
            "codebook": quantizer.codebook}, sys.argv[1])
dist.destroy_process_group()
"""


def test_in_a_two_process_run_the_codebook_follows_both_processes_batches(tmp_path):
    import subprocess
    import sys

    from test_trainer import free_port, subprocess_env

    script = tmp_path / "worker.py"
    script.write_text(DDP_WORKER)
    port = str(free_port())
    processes = [subprocess.Popen([sys.executable, str(script), str(tmp_path / f"rank{rank}.pt")],
                                  env=subprocess_env(MASTER_ADDR="127.0.0.1", MASTER_PORT=port, RANK=str(rank),
                                                     WORLD_SIZE="2"), stderr=subprocess.PIPE)
                 for rank in range(2)]
    for process in processes:
        _, stderr = process.communicate(timeout=90)
        assert process.returncode == 0, stderr.decode()[-3000:]
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2)]
    # one starting codebook (the first process's), then the same EMA statistics everywhere ...
    assert torch.equal(ranks[0]["initial"], ranks[1]["initial"])
    assert torch.equal(ranks[0]["code_sum"], ranks[1]["code_sum"])
    assert torch.equal(ranks[0]["codebook"], ranks[1]["codebook"])  # dead codes revived alike
    # ... those of one process updating on both processes' batches together
    batches = torch.randn(2, 2, 20, 4, generator=torch.Generator().manual_seed(7))
    single = EMAQuantizer(num_codes=8, code_dim=4, stochastic=False).train()
    single.set_codebook(ranks[0]["initial"])
    single(batches[:, 1].reshape(-1, 4))
    torch.testing.assert_close(single.code_sum, ranks[0]["code_sum"])
    torch.testing.assert_close(single.code_count, ranks[0]["code_count"])
