#!/usr/bin/env bash
# `make demo`: the whole pipeline on the CPU in minutes, through the real entry points.
# Data, checkpoints and outputs that already exist are reused; only what is missing is redone.
set -euo pipefail
PY=${1:-.venv/bin/python}
RUNS=runs/synthetic
OUT=outputs/demo
DATA=data.root=data/synthetic_demo  # the demo experiment's own 1,000-clip dataset
CLIPS=data.max_frames=160           # and its clip length (experiment=demo sets both for training)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
start=$(date +%s)
step() { printf '\n== %s (%ss elapsed)\n' "$1" $(( $(date +%s) - start )); }
# Each model's training is fitted into its minutes (train.fit_to_time_limit): on a machine slower than the one these
# were measured on, a stage takes fewer steps, its learning-rate decays moved with them, so that a slow machine does
# not stretch the demo far past ten minutes; on a normal day the steps of configs/experiment/demo.yaml all fit.
# VQ_MIN=... EVALUATOR_MIN=... TRANSFORMER_MIN=... change the minutes; 0 lets a stage take all of its steps.
fit() {
  if [ "$1" != 0 ]; then echo "train.time_limit_min=$1 train.fit_to_time_limit=true"; fi
}

step "training the 2D motion VQ-VAE (experiment=demo)"
"$PY" -m intermask.train vqvae experiment=demo $(fit "${VQ_MIN:-2.5}")
step "training the text-motion evaluator"
"$PY" -m intermask.train evaluator experiment=demo $(fit "${EVALUATOR_MIN:-1.25}")
step "training the Inter-M transformer"
"$PY" -m intermask.train transformer experiment=demo $(fit "${TRANSFORMER_MIN:-3.5}")

CKPT=ckpt=$RUNS/transformer_demo/last.pt
if [ ! -f "$OUT/.done" ] || [ "$OUT/.done" -ot "$RUNS/transformer_demo/last.pt" ]; then
  step "sampling prompts of different families, and a reaction"
  "$PY" -m intermask.sample "$CKPT" "$DATA" --out "$OUT" --length 5 --seed 0 \
    --text "the first person walks up to the second person and they shake right hands" \
    --text "two people hug each other warmly" \
    --text "the first person pushes the second person, who staggers backwards" \
    --text "the two people spin around each other clockwise" \
    --text "the second person waves at the first person three times"
  pushed=$(ls "$OUT"/the_first_person_pushes_*_0.npy | head -n 1)
  "$PY" -m intermask.sample "$CKPT" "$DATA" --out "$OUT" --seed 0 --reaction-to "$pushed" \
    --text "the second person staggers back after the push"
  touch "$OUT/.done"
fi
if [ ! -f "$RUNS/transformer_demo/eval_synthetic_test_quick.md" ] || \
   [ "$RUNS/transformer_demo/eval_synthetic_test_quick.md" -ot "$RUNS/transformer_demo/last.pt" ]; then
  step "evaluating on the synthetic test split (quick protocol: 2 x 64 items in batches of 32, 10 decoding steps)"
  "$PY" -m intermask.eval --dataset synthetic --quick "$CKPT" "$DATA" "$CLIPS" evaluator_ckpt=$RUNS/evaluator_demo/last.pt \
    protocol.batch_size=32 protocol.quick.max_items=64 generation.steps=10
else
  cat "$RUNS/transformer_demo/eval_synthetic_test_quick.md"
fi

step "done"
cat <<MSG
dataset       data/synthetic_demo/                  (InterHuman layout; README: how to use real data)
checkpoints   $RUNS/{vqvae,evaluator,transformer}_demo/last.pt   (tensorboard: tensorboard --logdir runs)
samples       $OUT/   (.mp4 video, .html 3D viewer, .bvh per person, .npy joints + .json)
evaluation    $RUNS/transformer_demo/eval_synthetic_test_quick.md
MSG
