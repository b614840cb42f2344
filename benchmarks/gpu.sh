#!/usr/bin/env bash
# The GPU figures, in one short run (under 10 minutes once set up): training
# images/s and one-image serving latency of
#   paper:  ResNet-50, the whole network trained, mixed precision (bf16), batch 64;
#   thesis: WideResNet-50-2, frozen stem, the head trained on cached features, bf16, batch 64
#           (goal on an H200-class GPU: >= 1,000 images/s frozen).
# Without a visible GPU it runs the CPU-only checks (train_throughput.py --quick on
# small_cnn), says that no GPU is visible, and exits 0.
#
# Run: bash benchmarks/gpu.sh    (then put the printed figures in the README's "Benchmarks")
#      SKIP_SETUP=1 bash benchmarks/gpu.sh    (an environment set up already, in use by others)
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${HEADSYNTH_VENV:-.venv}/bin/python"
BENCH=benchmarks/train_throughput.py

if [[ "${SKIP_SETUP:-0}" == 1 ]]; then
  echo "gpu.sh: SKIP_SETUP=1: using $PY as it is"
else
  make setup
fi

# The number of GPUs TensorFlow sees (0 when it cannot say).
visible_gpus() {
  local count
  count="$(TF_CPP_MIN_LOG_LEVEL=3 "$PY" -c \
    "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))" 2>/dev/null | tail -1)" || true
  [[ "$count" =~ ^[0-9]+$ ]] && echo "$count" || echo 0
}

gpus="$(visible_gpus)"
if [[ "$gpus" == 0 ]] && command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q GPU; then
  # The driver sees a GPU but the locked tensorflow wheel brings no CUDA libraries:
  # add TensorFlow's own pinned CUDA wheels (needs the network), once.
  echo "gpu.sh: nvidia-smi lists a GPU that TensorFlow does not see; installing tensorflow[and-cuda]"
  tf_version="$(TF_CPP_MIN_LOG_LEVEL=3 "$PY" -c 'import tensorflow as tf; print(tf.__version__)' 2>/dev/null | tail -1)" || true
  "${PY%python}pip" install --quiet --disable-pip-version-check "tensorflow[and-cuda]==$tf_version" \
    -c requirements/stack.lock.txt || echo "gpu.sh: installing the CUDA wheels failed"
  gpus="$(visible_gpus)"
fi

echo "gpu.sh: TensorFlow sees $gpus GPU(s)"
if [[ "$gpus" == 0 ]]; then
  echo "gpu.sh: CPU-only checks (train_throughput.py --quick on small_cnn)"
  "$PY" "$BENCH" --quick --backbones small_cnn
  echo
  echo "gpu.sh: no GPU is visible to TensorFlow on this machine: the CPU-only checks ran;" \
    "no GPU figures were measured. Run this script on a machine with a GPU for them."
  exit 0
fi

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
start=$SECONDS
echo
echo "=== paper: resnet50, stem trained, bf16, batch 64 ==="
"$PY" "$BENCH" --backbones resnet50 --modes trained --serving resnet50 \
  --mixed-precision bf16 --batch 64 --steps 30 --examples 1024 --repeats 3
echo
echo "=== thesis: wide_resnet50_2, stem frozen, cached features, bf16, batch 64 ==="
"$PY" "$BENCH" --backbones wide_resnet50_2 --modes frozen,cached --serving wide_resnet50_2 \
  --mixed-precision bf16 --batch 64 --steps 30 --examples 1024 --repeats 3
echo
echo "gpu.sh: done in $((SECONDS - start)) s after set-up"
