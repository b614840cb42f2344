"""Where the "realistic" parameter vectors that generative models are fitted to come from.

Four sources, all returned in units of sigma (q at scale 1, i.e. p / sigma):

    heldout_population
                 (default) a synthetic population that is not the model's own:
                 older, bimodal in sex, another skin-tone mix, its coefficients
                 generated from its traits by a mapping learnt from the model's
                 stored identities (see `heldout.py`), with age and sex;
                 `size` identities, deterministic from `seed`.
    population   the labelled identities the built-in model's PCA was built
                 from: their standardized shape and texture coefficients
                 (`MorphableModel.population`), with age and sex. In q they are
                 N(0, I) to second order: the held-out test set of the samplers
                 study would be the naive normal sampler's own distribution.
    a file       `.npz`/`.npy`/`.csv` vectors (see `data_schemas/parameter_files.py`),
                 optional `age` and `sex` labels; `scale` says which scale its
                 q were written in (p = scale * sigma * q; 1 for sigma units,
                 1.6 for the paper's q), so they are converted to sigma units.
    photos       a trained regressor's predictions on real photographs (the
                 thesis fits its GMM/GAN to the best predictions on Wikipedia
                 photos): faces are detected and framed like the training data
                 (see `prediction/predict.py`); optional labels from a CSV with
                 columns `photo,age,sex`.

The thesis's "p-fit" and "wiki ensemble" data are such files or photo predictions.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field

import numpy as np

from headsynth.components.generative.heldout import (
    DEFAULT_SIZE,
    HELDOUT_POPULATION,
    heldout_population,
    stored_population_q,
)
from headsynth.components.identity.detection import FaceNotFound
from headsynth.components.prediction.predict import (
    LoadedRegressor,
    PhotoPredictor,
    encode_png,
    load_regressor,
)
from headsynth.core.errors import ConfigError, ParameterError
from headsynth.core.photos import load_photo, photo_specs
from headsynth.data_schemas.parameter_files import load_labelled_parameter_file

POPULATION = "population"
PHOTOS = "photos"


@dataclass
class RealisticVectors:
    """Parameter vectors in units of sigma, with optional labels.

    Attributes:
        q: `[n, m]` float32.
        labels: `age`, `sex` (0 female, 1 male) as `[n]` arrays, when known.
        source: a description for reports.
        notes: what was left out or assumed while reading.
    """

    q: np.ndarray
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def subset(self, rows: np.ndarray) -> RealisticVectors:
        return RealisticVectors(
            self.q[rows], {k: v[rows] for k, v in self.labels.items()}, self.source, list(self.notes)
        )


def population_vectors(model) -> RealisticVectors:
    """The model's labelled population as q in sigma units, truncated like the model.

    Raises:
        ParameterError: if the model carries no population coefficients (e.g. a BFM file).
    """
    q = stored_population_q(model, "to fit generative models to").astype(np.float32)
    population = model.population
    labels = {key: np.asarray(population[key], np.float64) for key in ("age", "sex") if key in population}
    return RealisticVectors(
        q, labels, f"the {len(q)} identities the face model {model.name!r} was built from"
    )


def heldout_vectors(model, size: int = DEFAULT_SIZE, seed: int = 0) -> RealisticVectors:
    """The held-out synthetic population (`heldout.py`) as q in sigma units, with age and sex.

    Raises:
        ConfigError: if `size` < 2.
        ParameterError: if the model stores no labelled population to learn the mapping from.
    """
    q, traits = heldout_population(model, size, seed)
    labels = {key: traits[key] for key in ("age", "sex")}
    return RealisticVectors(
        q,
        labels,
        f"{len(q)} held-out synthetic identities (older, bimodal sex, another skin-tone mix; seed {seed}) "
        f"in the face model {model.name!r}'s space",
    )


def file_vectors(path: str, width: int, scale: float = 1.0, min_rows: int = 2) -> RealisticVectors:
    """Vectors (and labels) from a parameter file, converted to sigma units (q * scale).

    Raises:
        ParameterError: for a missing file, wrong width, NaNs or too few rows (naming the problem).
    """
    if scale <= 0:
        raise ConfigError(f"The source scale must be positive. Received: {scale}.")
    q, labels = load_labelled_parameter_file(path, width=width, min_rows=min_rows)
    labels = {key: np.asarray(value, np.float64) for key, value in labels.items()}
    return RealisticVectors((q * scale).astype(np.float32), labels, f"parameter file {path}")


def read_photo_labels(path: str) -> dict[str, tuple[float, float]]:
    """`photo -> (age, sex)` from a CSV with columns photo, age, sex (photo: file name or spec).

    Raises:
        ParameterError: for a missing file, missing columns or unparsable values.
    """
    if not os.path.isfile(path):
        raise ParameterError(f"Photo label file {path} does not exist.")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = [c.strip().lower() for c in reader.fieldnames or []]
        if not {"photo", "age", "sex"} <= set(columns):
            raise ParameterError(
                f"Photo label file {path} has columns {columns}; expected photo, age, sex.",
                "Write a header line 'photo,age,sex'.",
            )
        labels = {}
        for line, row in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            try:
                labels[row["photo"]] = (float(row["age"]), float(row["sex"]))
            except ValueError:
                raise ParameterError(
                    f"Photo label file {path}, line {line}: age {row['age']!r} or sex {row['sex']!r} is not a number."
                ) from None
    return labels


def photo_vectors(
    model_dir: str,
    photos,
    labels_file: str = "",
    width: int | None = None,
    face_model_path: str | None = None,
) -> RealisticVectors:
    """A trained regressor's predictions on photographs, in sigma units (q * the regressor's scale).

    Photos without a detectable face are left out (listed in `notes`).

    Raises:
        ParameterError: if no photo gives a prediction, or the regressor's width is not `width`.
    """
    specs = photo_specs([photos] if isinstance(photos, str) else photos)
    if not specs:
        raise ConfigError(
            "The photos source needs photographs.", "Set generative.photos to files or folders."
        )
    labels_by_photo = read_photo_labels(labels_file) if labels_file else {}
    regressor = load_regressor(model_dir, face_model_path)
    if width is not None and regressor.face_model.num_parameters != width:
        raise ParameterError(
            f"The regressor {regressor.saved_model_dir} predicts {regressor.face_model.num_parameters} "
            f"parameters; the face model has {width}.",
            "Use a regressor trained with the same face model and component counts.",
        )
    vectors, ages, sexes, notes = [], [], [], []
    with PhotoPredictor(regressor, identity_backend="none") as predictor:
        for spec in specs:
            q = predict_photo(predictor, regressor, spec)
            if q is None:
                notes.append(f"no face found in {spec}; left out")
                continue
            vectors.append(q)
            label = labels_by_photo.get(spec) or labels_by_photo.get(os.path.basename(spec))
            if labels_by_photo and label is None:
                raise ParameterError(f"Photo label file {labels_file} has no row for {spec}.")
            if label is not None:
                ages.append(label[0])
                sexes.append(label[1])
    if not vectors:
        raise ParameterError(
            f"No face was found in any of the {len(specs)} photos.", "Give photographs showing one face each."
        )
    labels = {"age": np.asarray(ages), "sex": np.asarray(sexes)} if labels_by_photo else {}
    return RealisticVectors(
        np.asarray(vectors, np.float32),
        labels,
        f"predictions of {regressor.saved_model_dir} on {len(vectors)} photographs",
        notes,
    )


def predict_photo(predictor: PhotoPredictor, regressor: LoadedRegressor, spec: str) -> np.ndarray | None:
    """`[m]` q in sigma units of the photo's face, framed like the training data; None if no face."""
    photo, _ = load_photo(spec)
    try:
        face = predictor.detector.detect(photo, f"photo {spec}")
    except FaceNotFound:
        return None
    crop, _, _ = predictor.crop_face(photo, face)
    return regressor.predict([encode_png(crop)])[0] * regressor.scale


def realistic_vectors(
    source: str,
    model,
    scale: float = 1.0,
    photos_model: str = "",
    photos=(),
    photos_labels: str = "",
    seed: int = 0,
    size: int = DEFAULT_SIZE,
) -> RealisticVectors:
    """Reads the realistic vectors from `source`: "heldout_population", "population", "photos", or a file.

    `seed` and `size` apply to "heldout_population" only.

    Raises:
        ConfigError: for a photos source without a model or photos, or a held-out size < 2.
        ParameterError: for unusable data (see the functions above).
    """
    if source == HELDOUT_POPULATION:
        return heldout_vectors(model, size, seed)
    if source == POPULATION:
        return population_vectors(model)
    if source == PHOTOS:
        if not photos_model:
            raise ConfigError(
                "generative.source=photos needs a trained regressor.",
                "Set generative.photos_model to a run, study-net or SavedModel folder.",
            )
        return photo_vectors(photos_model, photos, photos_labels, width=model.num_parameters)
    return file_vectors(source, model.num_parameters, scale)
