"""The set-up step: idempotent, and it left the compiled op and offline weights in place."""

import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_second_setup_does_no_work():
    started = time.monotonic()
    result = subprocess.run(["scripts/setup_env.sh"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert time.monotonic() - started < 10


def test_rasterizer_op_loads():
    import tensorflow_graphics

    from headsynth.components.rendering.rasterizer import require_rasterizer

    require_rasterizer()
    from headsynth.components.rendering.rasterizer import RENDER_OPS

    op = Path(tensorflow_graphics.__file__).parent / "rendering" / "kernels" / "rasterizer_op.so"
    assert op.exists()
    assert Path(RENDER_OPS).exists()


def test_offline_face_recognition_weights_are_where_deepface_looks():
    import headsynth  # noqa: F401  (sets DEEPFACE_HOME)

    weights = Path(os.environ["DEEPFACE_HOME"]) / ".deepface" / "weights"
    for name in ("dlib_face_recognition_resnet_model_v1.dat", "shape_predictor_5_face_landmarks.dat"):
        path = weights / name
        assert path.exists() and path.stat().st_size > 1_000_000, path
    assert str(ROOT) in str(weights) or "HEADSYNTH_CACHE" in os.environ  # a project folder, not $HOME
