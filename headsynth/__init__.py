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


def __getattr__(name: str):
    """`headsynth.FaceModel` and the other artifact types, loaded on first use.

    TFX's Kubeflow V2 executor entry point (what a pod runs) finds a custom
    artifact class by its TYPE_NAME, which the compiler requires to read
    `<module>.<Class>` with one dot: `headsynth.FaceModel` must import. The
    artifact modules import TFX, which `import headsynth` must not load.
    """
    if name in ("FaceModel", "Parameters", "Evaluation"):
        from headsynth.data_schemas import artifacts  # TFX (heavy): only when an artifact type is asked for

        return getattr(artifacts, name)
    if name == "GenerativeModel":
        from headsynth.components.generative.artifact import GenerativeModel  # TFX (heavy), as above

        return GenerativeModel
    raise AttributeError(f"module 'headsynth' has no attribute {name!r}")
