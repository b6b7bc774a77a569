#!/usr/bin/env bash
# The synthetic interaction benchmark: train the VQ-VAE, the evaluator and the transformer of one experiment
# (default experiment=synthetic, the paper's model size; it wants a GPU), then evaluate on the test split,
# render samples of several families and a reaction, and check prompt adherence of ground truth and model.
#
#   bash scripts/quality.sh [key=value ...]          the overrides go to every train/eval/sample command
#
# Environment: PY (default .venv/bin/python), EXPERIMENT (synthetic), OUT (outputs/quality_$EXPERIMENT),
# DATA (data/synthetic: generated on first use), RUNS_ROOT (runs),
# VQ_MIN / EVALUATOR_MIN / TRANSFORMER_MIN: minutes of training per model in this call (empty: to the end).
# Training resumes from the last checkpoints, so with time limits the benchmark runs in chunks: rerun the same
# command until the models are trained; the evaluation and samples are redone after each chunk.
# FIT=1 instead fits each limited training into its minutes (train.fit_to_time_limit): a run that would not finish
# is shortened, its learning-rate decays moved with it, so every model ends its schedule within one call.
# TRAIN_ARGS: extra overrides for the three train commands only (e.g. "train.num_workers=8").
# EVAL_ARGS: extra arguments for `intermask.eval` (e.g. "--quick" or "protocol.replications=5").
# STAGES: which of "train eval sample adherence" to run (default all, in that order).
# TOGETHER=1 trains the evaluator beside the VQ-VAE (a GPU has room for both; on a small CPU it only slows).
# ADHERENCE_ITEMS: test clips whose captions the model generates for the adherence check (default 200).
# ADHERENCE_ARGS: extra arguments for scripts/adherence.py (e.g. "--steps 10").
set -euo pipefail
PY=${PY:-.venv/bin/python}
EXPERIMENT=${EXPERIMENT:-synthetic}
OUT=${OUT:-outputs/quality_$EXPERIMENT}
DATA=${DATA:-data/synthetic}
RUNS_ROOT=${RUNS_ROOT:-runs}
RUNS=$RUNS_ROOT/synthetic
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
start=$(date +%s)
step() { printf '\n== %s (%ss elapsed)\n' "$1" $(( $(date +%s) - start )); }
# shellcheck disable=SC2086  # TRAIN_ARGS and EVAL_ARGS hold several words
set -- "data.root=$DATA" "runs_root=$RUNS_ROOT" "$@"
limit() {
  if [ -n "${1:-}" ]; then
    echo "train.time_limit_min=$1"
    if [ "${FIT:-0}" = 1 ]; then echo "train.fit_to_time_limit=true"; fi
  fi
}

STAGES=${STAGES:-train eval sample adherence}
wants() { [[ " $STAGES " == *" $1 "* ]]; }
train_evaluator() { "$PY" -m intermask.train evaluator "experiment=$EXPERIMENT" $(limit "${EVALUATOR_MIN:-}") ${TRAIN_ARGS:-} "$@"; }

if wants train; then
  if [ "${TOGETHER:-0}" = 1 ]; then
    if [ ! -f "$DATA/split/train.txt" ]; then
      echo "TOGETHER=1 needs the dataset first (python -m intermask.data.synthetic out=$DATA)" >&2; exit 2
    fi
    step "VQ-VAE and, beside it, the evaluator (experiment=$EXPERIMENT)"
    train_evaluator "$@" &
    evaluator=$!
  fi
  "$PY" -m intermask.train vqvae "experiment=$EXPERIMENT" $(limit "${VQ_MIN:-}") ${TRAIN_ARGS:-} "$@"
  if [ "${TOGETHER:-0}" = 1 ]; then
    wait "$evaluator"
  else
    step "evaluator"
    train_evaluator "$@"
  fi
  step "Inter-M transformer"
  "$PY" -m intermask.train transformer "experiment=$EXPERIMENT" $(limit "${TRANSFORMER_MIN:-}") \
    "vq_ckpt=$RUNS/vqvae_$EXPERIMENT/last.pt" ${TRAIN_ARGS:-} "$@"
fi

CKPT="ckpt=$RUNS/transformer_$EXPERIMENT/last.pt"
if wants eval; then
  step "evaluation on the synthetic test split"
  "$PY" -m intermask.eval --dataset synthetic ${EVAL_ARGS:-} "$CKPT" \
    "evaluator_ckpt=$RUNS/evaluator_$EXPERIMENT/last.pt" "$@"
fi

if wants sample; then
  step "samples of several families, and a reaction"
  "$PY" -m intermask.sample "$CKPT" --out "$OUT" --seed 0 "sample.formats=[npy,gif,html]" "$@" \
    --text "the first person walks up to the second person and they shake right hands" \
    --text "two people hug each other warmly" \
    --text "the first person pushes the second person, who staggers backwards" \
    --text "the two people spin around each other clockwise" \
    --text "the second person waves at the first person three times" \
    --text "the first person chases the second person"
  pushed=$(ls "$OUT"/the_first_person_pushes_*_0.npy | head -n 1)
  "$PY" -m intermask.sample "$CKPT" --out "$OUT" --seed 0 "sample.formats=[npy,gif,html]" "$@" \
    --reaction-to "$pushed" --text "the second person staggers back after the push"
fi

if wants adherence; then
  step "prompt adherence, ground truth and model"
  "$PY" scripts/adherence.py --data "$DATA" --split test --ckpt "$RUNS/transformer_$EXPERIMENT/last.pt" \
    --max-items "${ADHERENCE_ITEMS:-200}" --json "$OUT/adherence.json" ${ADHERENCE_ARGS:-}
fi

step "done"
echo "evaluation  $RUNS/transformer_$EXPERIMENT/eval_synthetic_test*.md"
echo "samples     $OUT/"
