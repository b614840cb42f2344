"""Quiet logs: progress lines first, known library start-up noise filtered, real warnings kept."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator

# Lines TensorFlow's C++ runtime prints on every machine, CUDA or not: at import the
# CUDA plugins are registered twice (TensorFlow's own and XLA's copy), logged at E so
# TF_CPP_MIN_LOG_LEVEL=2 keeps them; at the first XLA compilation (the renderer's
# shading) XLA's service announces itself through absl, which that variable ignores;
# mediapipe's TFLite graphs announce their delegate at their first inference.
STARTUP_NOISE = re.compile(
    r"Unable to register cu(FFT|DNN|BLAS) factory"
    r"|All log messages before absl::InitializeLog\(\) is called"
    r"|computation_placer\.cc.*already registered"
    r"|XLA service 0x[0-9a-f]+ initialized for platform"
    r"|StreamExecutor device \(\d+\): Host"
    r"|Compiled cluster using XLA!"
    r"|Created TensorFlow Lite XNNPACK delegate for CPU"
    r"|Feedback manager requires a model with a single signature inference"
    # mediapipe's face mesh on a square crop (the square ROI it says is supported)
    r"|Using NORM_RECT without IMAGE_DIMENSIONS is only supported for the square ROI"
)

# Python warnings about the environment, not the run: Google's client libraries
# announce the end of Python 3.11 support and aiplatform the end of
# google-cloud-storage 2 (the stack pins both; see requirements/stack.txt).
KNOWN_FUTURE_WARNINGS = (
    r"You are using a Python version .* which Google will stop supporting",
    r"Support for google-cloud-storage < 3\.0\.0 will be removed",
)


@contextlib.contextmanager
def filtered_stderr(noise: re.Pattern = STARTUP_NOISE) -> Iterator[None]:
    """Captures file descriptor 2 (C++ and Python output alike) and replays every line but the noise.

    Args:
        noise: lines matching it are dropped; every other line is written back, in order.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines(keepends=True):
                if not noise.search(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def quiet_start() -> None:
    """Silences the known start-up noise of TensorFlow and Google's clients; keeps real warnings.

    Call it before anything imports TensorFlow, and import TensorFlow under `filtered_stderr()`
    (the `headsynth` command does both). Child processes (Beam workers) inherit the setting.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ INFO and WARNING lines
    for message in KNOWN_FUTURE_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=FutureWarning)


def quiet_logging() -> None:
    """Keeps TFX/Beam/TF INFO chatter out of the way of the progress lines."""
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger().setLevel(logging.WARNING)
    for name in ("apache_beam", "tensorflow", "tfx", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
