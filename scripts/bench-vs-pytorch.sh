#!/usr/bin/env bash
# Runs the core-loop benchmark on both sides, PyTorch (CPU, from PyPI, in .venv) and ours,
# on the same model, the same inputs and the same thread count, and prints the ratios.
#
#   scripts/bench-vs-pytorch.sh [THREADS]     (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet torch numpy
fi

echo "== PyTorch $(.venv/bin/python -c 'import torch; print(torch.__version__)'), $threads threads"
torch_out=$(.venv/bin/python scripts/bench_pytorch.py \
    assets/fashion-vae-16.safetensors assets/fashion-mnist/t10k-images-idx3-ubyte.gz "$threads")
echo "$torch_out"

echo "== latent-explorer (candle), $threads threads"
ours=$(RAYON_NUM_THREADS="$threads" cargo bench --quiet --bench core_loop 2>/dev/null)
echo "$ours"

pick() { awk -v key="$2" '$1 == key { print $2 }' <<<"$1"; }
# Our report pads each name to 44 columns; the value is the first number after it.
ours_value() { grep -F "$2" <<<"$1" | head -1 | cut -c45- | awk '{ print $1 }'; }

decode_torch=$(pick "$torch_out" decode_1_latent)
decode_numpy=$(pick "$torch_out" decode_1_latent_numpy)
encode_torch=$(pick "$torch_out" encode_10000)
train_torch=$(pick "$torch_out" train_batch_128)
decode_ours=$(ours_value "$ours" "decode 1 latent (FastDecoder)")
encode_ours=$(ours_value "$ours" "encode 10,000 images")
train_ours=$(ours_value "$ours" "train 784")

echo "== ratios (above 1 means latent-explorer is faster)"
awk -v a="$decode_torch" -v b="$decode_ours" -v n="$decode_numpy" 'BEGIN {
    printf "decode 1 latent: PyTorch %.1f µs / ours %.1f µs = %.2f×   (numpy %.1f µs: %.2f×)\n", a, b, a / b, n, n / b }'
awk -v a="$encode_torch" -v b="$encode_ours" 'BEGIN {
    printf "encode 10,000:   ours %.0f / PyTorch %.0f images/s = %.2f×\n", b, a, b / a }'
awk -v a="$train_torch" -v b="$train_ours" 'BEGIN {
    printf "train batch 128: ours %.0f / PyTorch %.0f images/s = %.2f×\n", b, a, b / a }'
