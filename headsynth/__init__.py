"""headsynth: synthetic-head regression on TFX and Keras."""

import os as _os

# deepface looks for weights under $DEEPFACE_HOME/.deepface/weights; `make setup`
# links face-recognition-models' offline dlib files into the project cache.
_os.environ.setdefault(
    "DEEPFACE_HOME",
    _os.path.join(
        _os.environ.get(
            "HEADSYNTH_CACHE",
            _os.path.join(_os.path.dirname(_os.path.dirname(__file__)), ".cache", "headsynth"),
        ),
        "deepface",
    ),
)
