"""Files of parameter vectors q: reading with clear errors, and writing.

Formats (chosen by suffix):
    .npy  a `[n, m]` array (a `[m]` array is one vector).
    .npz  key `q` (or `parameters`) `[n, m]`; optional `age` and `sex` `[n]` labels.
    .csv  numbers, one vector per line, optional header line; header columns
          named `age` or `sex` are labels, not parameters.

Such files hold e.g. the parameters fitted to real photographs (the thesis's
"p-fit"), whose per-parameter means and standard deviations the fitted
samplers reproduce, or the "good" vectors a GMM or GAN is fitted to.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from headsynth.core.errors import ParameterError
from headsynth.core.io_utils import save_npz

VECTOR_KEYS = ("q", "parameters")
LABEL_KEYS = ("age", "sex")
SUFFIXES = (".npy", ".npz", ".csv")


def load_parameter_file(path: str | os.PathLike, width: int | None = None, min_rows: int = 1) -> np.ndarray:
    """Reads parameter vectors from a `.npy`, `.npz` or `.csv` file.

    Args:
        path: the file.
        width: the expected vector width m (None accepts any).
        min_rows: the least number of vectors the caller needs.

    Returns:
        `[n, m]` float32 vectors.

    Raises:
        ParameterError: if the file is missing or unreadable, or its vectors have
            the wrong width, too few rows, or NaN/inf entries.
    """
    vectors, _ = load_labelled_parameter_file(path, width=width, min_rows=min_rows)
    return vectors


def load_labelled_parameter_file(
    path: str | os.PathLike, width: int | None = None, min_rows: int = 1
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Reads parameter vectors and their optional `age`/`sex` labels.

    Returns:
        `[n, m]` float32 vectors and a dict of `[n]` label arrays (possibly empty).

    Raises:
        ParameterError: as `load_parameter_file`, and for labels whose length
            differs from the number of vectors.
    """
    path_str = os.fspath(path)
    suffix = Path(path_str).suffix.lower()
    if suffix not in SUFFIXES:
        raise ParameterError(
            f"Parameter file {path_str} has suffix {suffix or '(none)'!r}.",
            f"Use one of {', '.join(SUFFIXES)}.",
        )
    if not tf.io.gfile.exists(path_str):
        raise ParameterError(f"Parameter file {path_str} does not exist.", "Check the path.")
    try:
        with tf.io.gfile.GFile(path_str, "rb") as f:
            data = f.read()
    except (OSError, tf.errors.OpError) as error:
        raise ParameterError(f"Parameter file {path_str} cannot be read ({error}).") from None
    if suffix == ".csv":
        vectors, labels = _parse_csv(data, path_str)
    else:
        vectors, labels = _parse_numpy(data, suffix, path_str)
    vectors = _check_vectors(vectors, path_str, width, min_rows)
    for key, values in labels.items():
        if values.shape != (len(vectors),):
            raise ParameterError(
                f"Parameter file {path_str}: label {key!r} has shape {list(values.shape)}; expected "
                f"[{len(vectors)}] (one per vector).",
                "Write labels with save_parameter_file(path, q, age=..., sex=...).",
            )
    return vectors, labels


def save_parameter_file(path: str | os.PathLike, q: np.ndarray, **labels: np.ndarray) -> None:
    """Writes `[n, m]` vectors and optional `[n]` labels (e.g. age, sex) as `.npz`, atomically.

    Raises:
        ParameterError: for a non-2-D q, non-finite values or labels of the wrong length.
    """
    path_str = os.fspath(path)
    if not path_str.endswith(".npz"):
        raise ParameterError(f"Parameter files are written as .npz; got {path_str}.", "Use a .npz path.")
    q = _check_vectors(np.asarray(q), path_str, None, 1)
    arrays = {"q": q}
    for key, values in labels.items():
        values = np.asarray(values)
        if values.shape != (len(q),):
            raise ParameterError(
                f"Label {key!r} has shape {list(values.shape)}; expected [{len(q)}] (one per vector)."
            )
        if key in VECTOR_KEYS:
            raise ParameterError(f"Label name {key!r} is reserved for the vectors.", "Rename the label.")
        arrays[key] = values
    save_npz(path_str, compress=True, **arrays)


def _parse_numpy(data: bytes, suffix: str, path: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
        if suffix == ".npy":
            if not isinstance(loaded, np.ndarray):
                raise ValueError("not a single array")
            return loaded, {}
        with loaded as archive:
            contents = {key: archive[key] for key in archive.files}
    except Exception as error:
        # Damaged bytes surface as BadZipFile, zlib.error, NotImplementedError, TokenError,
        # ValueError ... depending on where they are: all mean an unreadable file.
        raise ParameterError(
            f"Parameter file {path} is not a readable {suffix} file ({error}).",
            "The file is truncated or corrupt; write it again.",
        ) from None
    key = next((k for k in VECTOR_KEYS if k in contents), None)
    if key is None:
        raise ParameterError(
            f"Parameter file {path} has no array 'q' or 'parameters' (found: {', '.join(contents) or 'none'}).",
            "Store the [n, m] vectors under the key 'q'.",
        )
    labels = {k: np.asarray(contents[k]) for k in LABEL_KEYS if k in contents}
    return contents[key], labels


def _parse_csv(data: bytes, path: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ParameterError(f"Parameter file {path} is not UTF-8 text ({error}).") from None
    try:
        # newline="" lets the csv module see bare "\r" line ends instead of failing on them.
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise ParameterError(f"Parameter file {path} is not a readable CSV file ({error}).") from None
    if not rows:
        return np.zeros([0, 0]), {}
    header = None
    if not all(_is_number(cell) for cell in rows[0]):
        header, rows = [cell.strip().lower() for cell in rows[0]], rows[1:]
    columns = len(header) if header is not None else len(rows[0]) if rows else 0
    values = np.empty([len(rows), columns], dtype=np.float64)
    for i, row in enumerate(rows):
        line = i + (2 if header is not None else 1)
        if len(row) != columns:
            raise ParameterError(
                f"Parameter file {path}, line {line}: {len(row)} columns; expected {columns}.",
                "Every line needs the same number of values.",
            )
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell)
            except ValueError:
                raise ParameterError(
                    f"Parameter file {path}, line {line}, column {j + 1}: {cell!r} is not a number.",
                    "A parameter CSV holds only numbers (and an optional header line).",
                ) from None
    labels: dict[str, np.ndarray] = {}
    if header is not None:
        keep = [j for j, name in enumerate(header) if name not in LABEL_KEYS]
        labels = {name: values[:, j] for j, name in enumerate(header) if name in LABEL_KEYS}
        values = values[:, keep]
    return values, labels


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_vectors(vectors: np.ndarray, path: str, width: int | None, min_rows: int) -> np.ndarray:
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    if vectors.ndim != 2:
        raise ParameterError(
            f"Parameter file {path} holds an array of shape {list(vectors.shape)}; expected [n, m].",
            "Store one parameter vector per row.",
        )
    if vectors.dtype.kind not in "fiub":
        raise ParameterError(f"Parameter file {path} holds {vectors.dtype} values; expected numbers.")
    if width is not None and vectors.shape[1] != width:
        raise ParameterError(
            f"Parameter file {path} has vectors of width {vectors.shape[1]}; expected width {width}.",
            "Use vectors for the same model and number of shape/texture components.",
        )
    if len(vectors) < min_rows:
        raise ParameterError(
            f"Parameter file {path} has {len(vectors)} vectors; at least {min_rows} are needed.",
            "Add more vectors to the file.",
        )
    # Cast first so values beyond float32's range are reported, not silently made inf.
    with np.errstate(over="ignore", invalid="ignore"):
        vectors = vectors.astype(np.float32)
    bad_rows = np.flatnonzero(~np.all(np.isfinite(vectors), axis=1))
    if bad_rows.size:
        shown = ", ".join(str(r) for r in bad_rows[:10]) + (" ..." if bad_rows.size > 10 else "")
        raise ParameterError(
            f"Parameter file {path} has NaN or infinite values in {bad_rows.size} rows "
            f"(0-based rows {shown}).",
            "Remove or repair those rows.",
        )
    return vectors
