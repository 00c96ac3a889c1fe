#!/usr/bin/env bash
# Train the EmoHead checkpoints that examples/emohead.yaml reads, offline, from talking videos that
# the DEFAULT pipeline (examples/default.yaml) renders of the demo portrait with several emotions.
#
#   bash examples/train_emohead.sh            # from the repo root, with the .venv's `emoavatar` on PATH
#                                             # (or EMOAVATAR=.venv/bin/emoavatar PYTHON=.venv/bin/python)
#   emoavatar run examples/emohead.yaml -o out/emohead.mp4
#
# Steps (each is a command you can run alone):
#   1. python -m emoavatar_emohead.demo OUT    face crop of examples/portrait.png + sentences of speech
#   2. emoavatar run examples/default.yaml     one video per (emotion, sentence): OUT/videos/astronaut/<emotion>/<s>.mp4
#   3. emoavatar train emohead-preprocess      dlib landmarks, landmark-pca basis -> α/pose, visemes + prosody
#   4. emoavatar train emohead-hyperplane      one SVM per emotion on α           -> OUT/hyperplanes.npz
#   5. emoavatar train emohead-a2e             audio features -> α (FusedAttn)    -> OUT/a2e.safetensors
#   6. emoavatar train nerf                    expression-conditioned NeRF        -> OUT/nerf/
# Knobs (environment): OUT, EMOTIONS, SIZE (portrait px), A2E_ITERS, NERF_ITERS, NERF_RES, THREADS.
# The end-to-end test (tests/test_emohead_e2e.py) runs the same
# commands with smaller sizes. About 20 min on a 2-core CPU with the defaults below (the NeRF trains
# at ~2.4 it/s there; NERF_ITERS=300 NERF_RES=64 gives a rough preview in a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-out/emohead}
EMOTIONS=${EMOTIONS:-"neutral happy sad surprised"}
SIZE=${SIZE:-160}
A2E_ITERS=${A2E_ITERS:-2000}
NERF_ITERS=${NERF_ITERS:-2000}
NERF_RES=${NERF_RES:-96}
THREADS=${THREADS:-2}
EMOAVATAR=${EMOAVATAR:-emoavatar}
PYTHON=${PYTHON:-python}

echo "== 1. inputs -> $OUT"
mapfile -t SENTENCES < <("$PYTHON" -m emoavatar_emohead.demo "$OUT" --examples examples --size "$SIZE")

echo "== 2. videos from the default pipeline"
for emotion in $EMOTIONS; do
  mkdir -p "$OUT/videos/astronaut/$emotion"
  for line in "${SENTENCES[@]}"; do
    IFS=$'\t' read -r name wav words <<< "$line"
    "$EMOAVATAR" run examples/default.yaml -o "$OUT/videos/astronaut/$emotion/$name.mp4" --overwrite -q \
      --portrait "$OUT/portrait.png" --audio "$wav" --transcript "$words" --emotion "$emotion"
  done
done

echo "== 3. preprocess"
rm -rf "$OUT/clips"
"$EMOAVATAR" train emohead-preprocess --root "$OUT/videos" --dataset folder --out "$OUT/clips" \
  --encoder phonemes --encoder prosody

echo "== 4. hyperplanes"
"$EMOAVATAR" train emohead-hyperplane --data "$OUT/clips" --out "$OUT/hyperplanes.npz"

echo "== 5. audio-expression module"
# window n = 1 (paper: 5): with a few sentences a 5-frame causal window smooths and delays the mouth
"$EMOAVATAR" train emohead-a2e --data "$OUT/clips" --hyperplanes "$OUT/hyperplanes.npz" \
  --out "$OUT/a2e.safetensors" --d 64 --dh 64 --ffn-hidden 128 64 --window 1 \
  --iters "$A2E_ITERS" --batch 16 --seq 32 --lr 1e-3 --val-fraction 0.25 --val-every 250 --threads "$THREADS"

echo "== 6. NeRF"
cat > "$OUT/nerf.yaml" <<EOF
data: [clips/astronaut]        # relative to this file
output: nerf
resolution: $NERF_RES
iterations: $NERF_ITERS
batch_rays: 2048
n_samples: 24
lr: 0.01
threads: $THREADS
holdout_every: 10
val_every: 1000
checkpoint_every: 1000
model: {n_levels: 12, log2_table_size: 15, finest_resolution: 512, hidden: 32, color_hidden: 32}
EOF
"$EMOAVATAR" train nerf "$OUT/nerf.yaml"

echo "done: emoavatar run examples/emohead.yaml -o out/emohead.mp4"
if [ "$OUT" != "out/emohead" ]; then
  echo "  with --portrait $OUT/portrait.png --set controller.with.hyperplanes=$OUT/hyperplanes.npz" \
       "--set motion.with.checkpoint=$OUT/a2e.safetensors --set renderer.with.checkpoint=$OUT/nerf"
fi
