"""The built-in, licence-free morphable head model that ships in `headsynth/data/`.

It is built the way the Basel Face Model was built, from real faces, by
`scripts/build_builtin_face_model.py` (the builder lives in
`scripts/builtin_face_model/`, not in the runtime package; its module
docstring describes every step). Units are millimetres; +y is up, +x the
subject's left, the face looks along +z, and the head's bounding box (head
and a short neck, ~265 mm tall) is centred at the origin.
"""

from __future__ import annotations

from pathlib import Path

from headsynth.core.errors import ModelFileError

BUILTIN_FILE = Path(__file__).resolve().parents[1] / "data" / "builtin_face_model.npz"


def builtin_model_path() -> Path:
    """Path of the shipped built-in model file.

    Raises:
        ModelFileError: if the file is missing (a broken checkout).
    """
    if not BUILTIN_FILE.exists():
        raise ModelFileError(
            f"The built-in face model {BUILTIN_FILE} is missing.",
            "Regenerate it with `python scripts/build_builtin_face_model.py`.",
        )
    return BUILTIN_FILE
