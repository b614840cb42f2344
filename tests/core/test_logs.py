"""A quiet start: the known start-up noise is dropped, real warnings and errors still show."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=600, env=env
    )


def test_tensorflow_and_tfx_start_without_noise():
    result = run_python(
        """
        from headsynth.core.logs import filtered_stderr, quiet_start
        quiet_start()
        with filtered_stderr():
            import tensorflow
        from tfx import v1  # imports google.cloud.aiplatform and friends
        import warnings
        warnings.warn("a real warning", UserWarning)
        print("ready")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ready\n"
    assert "Unable to register" not in result.stderr
    assert "FutureWarning" not in result.stderr
    assert "UserWarning: a real warning" in result.stderr


def test_filtered_stderr_replays_every_line_but_the_noise():
    result = run_python(
        """
        import os
        from headsynth.core.logs import filtered_stderr
        with filtered_stderr():
            os.write(2, b"E cuda_fft.cc:479] Unable to register cuFFT factory: already\\n")
            os.write(2, b"E something.cc:1] a real C++ error\\n")
            import sys
            print("a Python warning line", file=sys.stderr)
        """
    )
    assert result.returncode == 0
    assert result.stderr == "E something.cc:1] a real C++ error\na Python warning line\n"


def test_mediapipe_models_start_and_run_without_noise():
    """Detector, framer and face mesh log their graphs' start-up from their own threads: none of it shows."""
    result = run_python(
        """
        from headsynth.core.logs import filtered_stderr, quiet_start
        quiet_start()
        with filtered_stderr():
            import tensorflow
        from skimage import data
        from headsynth.components.fitting.landmarks import FaceMeshLandmarker
        from headsynth.components.identity.detection import FaceDetector, FaceFramer
        photo = data.astronaut()
        for _ in range(2):
            with FaceFramer() as framer, FaceMeshLandmarker() as mesh, FaceDetector() as detector:
                framer.find(photo), mesh.landmarks(photo), detector.detect(photo)
        print("ready")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ready\n"
    assert result.stderr == "", result.stderr
