#!/usr/bin/env bash
# One idempotent set-up step: virtual environment, locked packages, the
# tensorflow-graphics rasteriser op, and offline face-recognition weights.
# A second run checks its stamps and does no work.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${HEADSYNTH_VENV:-.venv}"
CACHE="${HEADSYNTH_CACHE:-$PWD/.cache/headsynth}"
PYTHON="${PYTHON:-python3.11}"
STAMP="$VENV/.headsynth-setup"

inputs_hash() {
  cat requirements/stack.txt requirements/stack.lock.txt requirements/dev.txt setup.py \
    scripts/setup_env.sh scripts/build_rasterizer.py \
    headsynth/components/rendering/kernels/render_ops.cc | sha256sum | cut -d' ' -f1
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(inputs_hash)" \
      && -e "$CACHE/deepface/.deepface/weights/dlib_face_recognition_resnet_model_v1.dat" ]]; then
  echo "setup: environment $VENV is up to date"
  exit 0
fi

if ! command -v "$PYTHON" >/dev/null; then
  echo "setup error: $PYTHON not found. Install Python 3.11 or set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup: creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi

echo "setup: installing the locked package set (first time: ~3-5 minutes, ~4.5 GB)"
# tfx 1.16 declares Python <3.11 but runs on 3.11 (see shared/DESIGN.md).
"$VENV/bin/pip" install --quiet --disable-pip-version-check --ignore-requires-python \
  -r requirements/stack.txt -r requirements/dev.txt -c requirements/stack.lock.txt
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .

echo "setup: the renderer's C++ ops (tensorflow-graphics' rasteriser, headsynth's normals and rasterise-and-composite ops)"
"$VENV/bin/python" scripts/build_rasterizer.py

echo "setup: offline face-recognition weights in $CACHE/deepface"
WEIGHTS="$CACHE/deepface/.deepface/weights"
mkdir -p "$WEIGHTS"
MODELS="$("$VENV/bin/python" -c 'import face_recognition_models, os; print(os.path.dirname(face_recognition_models.__file__))' 2>/dev/null)/models"
for f in dlib_face_recognition_resnet_model_v1.dat shape_predictor_5_face_landmarks.dat \
         shape_predictor_68_face_landmarks.dat mmod_human_face_detector.dat; do
  if [[ ! -f "$MODELS/$f" ]]; then
    echo "setup error: $MODELS/$f is missing; reinstall face-recognition-models==0.3.0." >&2
    exit 1
  fi
  ln -sf "$MODELS/$f" "$WEIGHTS/$f"
done

inputs_hash > "$STAMP"
echo "setup: done"
