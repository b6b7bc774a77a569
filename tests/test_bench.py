"""The benchmark harness (scripts/bench.py) on a tiny configuration: what it reports, not how fast."""
import json
import math

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from intermask.models.transformer import InterMTransformer


@pytest.fixture(scope="module")
def bench(load_script):
    return load_script("bench")


TINY_RUN = ["--size", "tiny", "--device", "cpu", "--steps", "2", "--warmup", "0", "--frames", "32", "--window", "16",
            "--sample-steps", "2", "--sample-batch-size", "2", "--vq-batch-size", "4", "--transformer-batch-size", "2",
            "--workers", "0", "--clips", "6", "--tokenize-clips", "2"]


def positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_bench_tiny_run_prints_one_table_and_writes_every_section_to_json(bench, tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main([*TINY_RUN, "--data", str(tmp_path / "data"), "--json", str(out)])
    printed = capsys.readouterr().out
    assert printed.count("official/ours") == 1  # one table
    for row in ("vqvae train step", "transformer train step", "sampling latency", "sampling throughput",
                "loader vq_windows", "loader interactions", "token cache build"):
        assert row in printed

    report = json.loads(out.read_text())
    assert report["torch"] == torch.__version__ and report["device_type"] == "cpu" and report["device"]
    assert report["config"]["size"] == "tiny" and report["config"]["transformer"]["dim"] == 64
    assert report["reference"] is None and "6 synthetic clips generated" in report["data"]
    results = report["results"]
    assert set(results) == {"vqvae", "transformer", "sampling", "loader", "tokenize"}

    for section, unit in (("vqvae", "samples"), ("transformer", "samples")):
        ours = results[section]["ours"]
        assert len(ours["all_s"]) == 2 and positive(ours["median_s"]) and positive(ours[f"{unit}_per_s"])
        assert ours["peak_memory_mb"] >= 0 and ours["memory_method"]
        assert "official" not in results[section] and "speedup" not in results[section]
    for section in ("vqvae", "transformer"):
        assert results[section]["flops_per_step"] > 0 and positive(results[section]["ours"]["achieved_tflops"])
        assert results[section]["ours"]["mfu"] is None  # no known peak on a CPU

    sampling = results["sampling"]
    assert (sampling["frames"], sampling["token_steps"], sampling["decoding_steps"]) == (32, 8, 2)
    assert positive(sampling["latency"]["ours"]["clips_per_s"])
    assert positive(sampling["throughput"]["ours"]["clips_per_s"])

    for name in ("vq_windows", "interactions"):
        loader = results["loader"][name]
        assert loader["items"] > 0 and positive(loader["steps_per_s"]) and positive(loader["in_memory_steps_per_s"])
    assert results["tokenize"]["clips"] == 2 and results["tokenize"]["windows"] >= 2
    assert positive(results["tokenize"]["clips_per_s"])


def test_bench_runs_only_the_sections_asked_for(bench, tmp_path):
    report = bench.main([*TINY_RUN, "--which", "transformer"])
    assert set(report["results"]) == {"transformer"} and report["data"] is None


def test_bench_draws_each_sample_length_from_the_dataset_clips_for_both_sides(bench, tmp_path, capsys):
    report = bench.main([*TINY_RUN, "--which", "transformer,sampling", "--lengths", "dataset",
                         "--transformer-batch-size", "4", "--data", str(tmp_path / "data")])
    pool = report["config"]["lengths"]
    assert pool["clips"] >= 1 and 1 <= pool["mean_token_steps"] <= pool["max_token_steps"] <= 8
    lengths = report["results"]["transformer"]["lengths"]
    assert len(lengths) == 4 and all(1 <= length <= pool["max_token_steps"] for length in lengths)
    # the same draw feeds ours and the official code: inputs come from one seeded function
    config = bench.resolve_config(bench.parse_args([*TINY_RUN, "--transformer-batch-size", "4"]), torch.device("cpu"))
    config.length_pool = [3, 5, 8]
    first, second = (bench.transformer_inputs(config, 4, torch.device("cpu")) for _ in range(2))
    assert all(torch.equal(a, b) for a, b in zip(first, second)) and set(first[2].tolist()) <= {3, 5, 8}
    assert len(report["results"]["sampling"]["throughput"]["lengths"]) == 2
    assert "lengths mean" in capsys.readouterr().out


def test_bench_rejects_unknown_sections_and_odd_transformer_batches(bench):
    with pytest.raises(SystemExit):
        bench.parse_args(["--which", "vqvae,render"])
    args = bench.parse_args([*TINY_RUN, "--transformer-batch-size", "3"])
    with pytest.raises(ValueError, match="even"):
        bench.resolve_config(args, torch.device("cpu"))


def test_paper_size_comes_from_the_configs_with_small_cpu_defaults(bench):
    config = bench.resolve_config(bench.parse_args(["--size", "paper", "--device", "cpu"]), torch.device("cpu"))
    assert config.vq["width"] == 512 and config.vq["num_codes"] == 1024
    assert (config.transformer["dim"], config.transformer["depth"], config.transformer["text_dim"]) == (384, 6, 768)
    assert (config.frames, config.token_steps, config.window) == (300, 75, 64)
    assert config.vq_batch_size < 256 and any("paper: 256" in note for note in config.notes)


def test_analytic_transformer_flops_equal_the_counted_matmuls_of_a_forward(bench):
    sizes = dict(num_codes=32, num_parts=5, max_time=8, token_dim=16, dim=32, depth=2, heads=2, ff_dim=48,
                 dropout=0.0, text_dim=24)
    ids, lengths = torch.randint(32, (3, 2, 5, 6)), torch.tensor([6, 4, 5])
    counted = {}
    for groups in (1, 3):
        model = InterMTransformer(**sizes, length_groups=groups).eval()
        # the math backend spells attention out as matrix products, which the counter sees
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            model(ids, torch.randn(3, 24), lengths)
        counted[groups] = counter.get_total_flops()
        assert bench.planned_forward_flops(lengths, 6, length_groups=groups, **sizes) == counted[groups]
        assert bench.transformer_step_flops(lengths, 6, length_groups=groups, **sizes) == 6 * counted[groups]
    assert bench.transformer_forward_flops(3, 6, **sizes) == counted[1]
    # three groups of one sample: 6 + 4 + 5 steps of work instead of 3 x 6
    assert bench.transformer_forward_flops(1, 4, **sizes) + bench.transformer_forward_flops(1, 5, **sizes) \
        + bench.transformer_forward_flops(1, 6, **sizes) == counted[3] < counted[1]


def test_vq_step_flops_scale_one_counted_window_to_the_batch(bench):
    from intermask.models.vqvae import MotionVQVAE
    from intermask.motion.layout import INTERHUMAN

    config = bench.resolve_config(bench.parse_args([*TINY_RUN, "--vq-batch-size", "3"]), torch.device("cpu"))
    model = MotionVQVAE(INTERHUMAN, **config.vq).train()
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(3, config.window, INTERHUMAN.dim))["recon"].square().mean().backward()
    assert bench.vq_step_flops(config) == counter.get_total_flops() > 0


def test_mfu_needs_a_known_peak(bench):
    assert bench.peak_tflops(torch.device("cpu"), bf16=True, override=None) is None
    assert bench.peak_tflops(torch.device("cpu"), bf16=False, override=50.0) == 50.0


def test_profile_writes_an_operator_table_of_our_calls(bench, tmp_path):
    bench.main([*TINY_RUN, "--which", "transformer", "--profile", str(tmp_path / "prof")])
    table = (tmp_path / "prof" / "transformer.txt").read_text()
    assert table.startswith("3 calls;")
    assert "aten::mm" in table or "aten::addmm" in table  # the linear layers show up as operators


def test_channels_last_switch_converts_our_vq_and_computes_the_same_step(bench, tmp_path):
    report = bench.main([*TINY_RUN, "--which", "vqvae,sampling", "--channels-last"])
    assert report["config"]["channels_last"] is True and positive(report["results"]["vqvae"]["ours"]["median_s"])
    config = bench.resolve_config(bench.parse_args([*TINY_RUN, "--channels-last"]), torch.device("cpu"))
    torch.manual_seed(0)
    model = bench.MotionVQVAE(bench.INTERHUMAN, **config.vq).eval()
    features = bench.vq_inputs(config, torch.device("cpu"))
    standard = model(features)["recon"]
    converted = bench.vq_layout(model, config)
    assert converted.decoder.refine.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(converted(features)["recon"], standard, rtol=1e-4, atol=1e-5)
