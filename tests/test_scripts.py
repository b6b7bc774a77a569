"""The shell recipes (make demo, the quality benchmark) call the entry points in the right order with the right
arguments; a stand-in interpreter records the calls instead of running them."""
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Records its arguments, one call per line; for a `sample` call it also writes the .npy the reaction step reads.
RECORDER = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$CALLS"
if [ "$2" = "intermask.sample" ]; then
  out=""; previous=""
  for argument in "$@"; do [ "$previous" = "--out" ] && out="$argument"; previous="$argument"; done
  mkdir -p "$out" && touch "$out/the_first_person_pushes_the_second_person_who_st_0.npy"
fi
"""


def run_script(tmp_path, script: str, env: dict, *args: str) -> list[str]:
    recorder = tmp_path / "python"
    recorder.write_text(RECORDER)
    recorder.chmod(0o755)
    calls = tmp_path / "calls.txt"
    environment = {**os.environ, **env, "PY": str(recorder), "CALLS": str(calls)}
    result = subprocess.run(["bash", str(REPO / "scripts" / script), *args], cwd=tmp_path, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return calls.read_text().splitlines()


def program(call: str) -> str:
    words = call.split()
    return words[1] if words[0] == "-m" else words[0]


def test_quality_chunk_limits_each_training_resumes_the_transformer_on_its_vq_and_evaluates_the_result(tmp_path):
    calls = run_script(tmp_path, "quality.sh", {"VQ_MIN": "1.5", "TRANSFORMER_MIN": "2", "TRAIN_ARGS": "train.x=1",
                                                "EVAL_ARGS": "--quick", "OUT": "out", "ADHERENCE_ITEMS": "7"},
                       "device=cuda")
    modules = [program(call) for call in calls]
    assert modules == ["intermask.train"] * 3 + ["intermask.eval", "intermask.sample", "intermask.sample",
                                                 "scripts/adherence.py"]
    vq, evaluator, transformer, evaluation, prompts, reaction, adherence = calls
    assert vq.split()[2:4] == ["vqvae", "experiment=synthetic"] and "train.time_limit_min=1.5" in vq
    assert "train.time_limit_min" not in evaluator and "evaluator" in evaluator
    assert "train.time_limit_min=2" in transformer and "vq_ckpt=runs/synthetic/vqvae_synthetic/last.pt" in transformer
    for train_call in (vq, evaluator, transformer):
        assert "train.x=1" in train_call and "device=cuda" in train_call and "data.root=data/synthetic" in train_call
    assert "train.x=1" not in evaluation and "--quick" in evaluation and "device=cuda" in evaluation
    assert "evaluator_ckpt=runs/synthetic/evaluator_synthetic/last.pt" in evaluation
    assert prompts.count("--text") == 6 and "--reaction-to out/the_first_person_pushes" in reaction
    assert "--max-items 7" in adherence and "--ckpt runs/synthetic/transformer_synthetic/last.pt" in adherence


def test_quality_fits_each_limited_training_into_its_minutes_when_asked(tmp_path):
    calls = run_script(tmp_path, "quality.sh", {"VQ_MIN": "3", "EVALUATOR_MIN": "4", "FIT": "1", "STAGES": "train"})
    vq, evaluator, transformer = calls
    for limited, minutes in ((vq, 3), (evaluator, 4)):
        assert f"train.time_limit_min={minutes}" in limited and "train.fit_to_time_limit=true" in limited
    assert "train.time_limit_min" not in transformer and "fit_to_time_limit" not in transformer


def test_quality_stages_pick_what_runs(tmp_path):
    calls = run_script(tmp_path, "quality.sh", {"STAGES": "eval adherence", "EXPERIMENT": "midsize"})
    assert [program(call) for call in calls] == ["intermask.eval", "scripts/adherence.py"]
    assert "ckpt=runs/synthetic/transformer_midsize/last.pt" in calls[0]


def test_quality_trains_the_evaluator_beside_the_vq_only_on_an_existing_dataset(tmp_path):
    with pytest.raises(AssertionError, match="TOGETHER=1 needs the dataset"):
        run_script(tmp_path, "quality.sh", {"TOGETHER": "1", "STAGES": "train"})
    (tmp_path / "data" / "synthetic" / "split").mkdir(parents=True)
    (tmp_path / "data" / "synthetic" / "split" / "train.txt").write_text("0000\n")
    calls = run_script(tmp_path, "quality.sh", {"TOGETHER": "1", "STAGES": "train"})
    assert sorted(call.split()[2] for call in calls[:2]) == ["evaluator", "vqvae"] and "transformer" in calls[2]


def test_demo_trains_samples_and_evaluates_the_demo_experiment_on_its_own_dataset(tmp_path):
    calls = run_script(tmp_path, "demo.sh", {}, str(tmp_path / "python"))
    modules = [program(call) for call in calls]
    assert modules == ["intermask.train"] * 3 + ["intermask.sample", "intermask.sample", "intermask.eval"]
    assert all("experiment=demo" in call for call in calls[:3])
    assert all("data.root=data/synthetic_demo" in call for call in calls[3:])
    assert "--quick" in calls[-1] and "evaluator_ckpt=runs/synthetic/evaluator_demo/last.pt" in calls[-1]


def test_demo_fits_each_training_into_its_minutes_unless_told_not_to(tmp_path):
    vq, evaluator, transformer = run_script(tmp_path, "demo.sh", {}, str(tmp_path / "python"))[:3]
    for call in (vq, evaluator, transformer):
        assert "train.fit_to_time_limit=true" in call and "train.time_limit_min=" in call
    (tmp_path / "calls.txt").unlink()
    vq, evaluator, transformer = run_script(tmp_path, "demo.sh", {"VQ_MIN": "0", "TRANSFORMER_MIN": "7"},
                                            str(tmp_path / "python"))[:3]
    assert "time_limit_min" not in vq and "fit_to_time_limit" not in vq
    assert "train.time_limit_min=7" in transformer and "train.fit_to_time_limit=true" in evaluator
