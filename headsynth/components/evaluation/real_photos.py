"""Real photographs: every face reconstructed and scored by face recognition against the photos.

    regressor = load_regressor("runs/quickstart")
    photos, notes = packaged_photos()                     # or [(name, [H, W, 3] uint8), ...]
    result = evaluate_real_photos(regressor, photos, "out/")  # also out/real_photos.json, out/report.html

Every face mediapipe finds in the photos is cropped as the training renders
frame a head, reconstructed by the regressor and rendered frontally; the mean
face (q = 0, the naive predictor) is rendered too. dlib embeds the photo faces
(in their detected boxes) and the renderings, and the result holds:

- the similarity matrix reconstruction i x photo face j, cosine and dlib's L2
  distance (the thesis's Fig. 4.7 on real data);
- each face's own similarity (the diagonal) beside the mean face's similarity
  to the same photo face;
- rank-1 identification: probe = a reconstruction, gallery = the photo faces;
  the rank of its own face by cosine (ties count against it); chance is 1/N;
- verification: dlib's L2 distance below 0.6 (its documented same-person
  threshold, 99.38% on LFW), for the reconstructions and for the mean face;
- the landmark error of the reconstruction against mediapipe's 468 landmarks
  of the photo, normalised by the inter-ocular distance (when the fitting
  module is installed);
- with labels (photo -> person), whether reconstructions of two photos of one
  person are closer (L2) than reconstructions of two people's photos.

A grayscale photo (all channels equal) is compared with grayscale versions of
the renderings, the reconstruction's and the mean face's alike: colour that
the photo does not have must count neither for nor against a reconstruction.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from headsynth.components.evaluation.real_photos_report import face_panel, write_report
from headsynth.components.evaluation.real_photos_scores import (
    DLIB_THRESHOLD,
    face_scores,
    label_comparison,
    nanmean,
)
from headsynth.components.identity.detection import FaceBox, FaceNotFound
from headsynth.components.prediction.predict import PhotoPredictor, load_regressor
from headsynth.core.errors import DataError
from headsynth.core.io_utils import write_text_atomic
from headsynth.core.photos import is_grayscale, load_photos, packaged_photos, to_grayscale
from headsynth.report.values import json_ready

# dlib's documented threshold: two faces are the same person below this L2 distance.
REPORT_FILE = "report.html"
RESULT_FILE = "real_photos.json"


@dataclass(frozen=True)
class PhotoFace:
    """One detected face of one photo.

    Attributes:
        name: the photo's name, with `#k` (k = 1 most confident) when the photo shows several faces.
        photo: the photo's name.
        box: where the face is in the photo.
        gray: whether the photo is grayscale (its renderings are compared in gray).
    """

    name: str
    photo: str
    box: FaceBox
    gray: bool


def find_faces(detector, photos: list[tuple[str, np.ndarray]]) -> tuple[list[PhotoFace], list[str]]:
    """Every face in every photo, and notes naming the photos without one.

    Raises:
        FaceNotFound: if no photo shows a face.
    """
    faces, notes = [], []
    for name, photo in photos:
        boxes = detector.detect_all(photo)
        if not boxes:
            notes.append(f"No face found in photo {name}; it is left out.")
        gray = is_grayscale(photo)
        for k, box in enumerate(boxes):
            faces.append(PhotoFace(name if len(boxes) == 1 else f"{name}#{k + 1}", name, box, gray))
    if not faces:
        raise FaceNotFound(
            f"No face found in any of the {len(photos)} photos.",
            "Pass photos with clearly visible, roughly frontal faces at least ~40 pixels wide.",
        )
    return faces, notes


# Scores from embeddings (pure functions) ----------------------------------------------------------


def read_labels(path: str, faces: list[PhotoFace], aliases: dict[str, str] | None = None) -> list[str | None]:
    """The person of each face from a CSV of `photo,person` rows (a `photo,person` header is optional).

    A row names a photo (its name, file name or path as given; `aliases` maps the
    latter two to the name) and labels its most confident face, or names one face
    of a photo with several (`group#2`). Faces without a row stay unlabelled (None).

    Raises:
        DataError: for a missing or malformed file, a row naming an unknown photo,
            or a photo labelled twice with different people.
    """
    if not os.path.isfile(path):
        raise DataError(f"Labels file {path} does not exist.", "Pass a CSV file with rows photo,person.")
    aliases = aliases or {}
    by_name = {face.name: face.name for face in faces}
    for face in faces:
        by_name.setdefault(face.photo, face.name if face.name == face.photo else f"{face.photo}#1")
    labels: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8-sig") as file:
        for line, row in enumerate(csv.reader(file), start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells) or (line == 1 and [c.lower() for c in cells] == ["photo", "person"]):
                continue
            if len(cells) != 2 or not all(cells):
                raise DataError(
                    f"Labels file {path}, line {line}: expected two non-empty columns photo,person; got {row}.",
                    "Write one photo,person row per photo, e.g. astronaut.png,Eileen Collins.",
                )
            photo, person = cells
            face = by_name.get(aliases.get(photo, photo))
            if face is None:
                raise DataError(
                    f"Labels file {path}, line {line}: photo {photo!r} is not among the evaluated faces "
                    f"({', '.join(sorted(by_name))}).",
                    "Name a photo passed to the command (its name, file name or path) or one of its faces.",
                )
            if labels.get(face, person) != person:
                raise DataError(
                    f"Labels file {path}, line {line}: {photo} is labelled both {labels[face]!r} and {person!r}.",
                    "Give each photo one person.",
                )
            labels[face] = person
    return [labels.get(face.name) for face in faces]


# Text ---------------------------------------------------------------------------------------


def summary_line(summary: dict) -> str:
    """One line of counts: own photo above the mean face, rank-1 vs chance, verification, landmarks."""
    n = summary["faces"]
    text = (
        f"own photo above the mean face: {summary['own_above_mean_face']}/{n}, "
        f"rank-1: {summary['rank1']}/{n} (chance 1/{n}), "
        f"verified (L2 < {summary['threshold']:g}): {summary['verified']}/{n} "
        f"(mean face {summary['mean_face_verified']}/{n})"
    )
    error = summary.get("landmark_error_mean")
    if error is not None and np.isfinite(error):
        text += f", landmark error {error:.3f} IOD"
    return text


def face_line(face: dict, n: int) -> str:
    """One face: own similarity, the mean face's, which is higher, and the rank of its own photo."""
    own, mean = face["own_similarity"], face["mean_face_similarity"]
    if own is None or not np.isfinite(own):
        return f"{face['name']}: no face found in the rendering of its reconstruction (not scored)"
    verdict = "above" if own > mean else "NOT above"
    gray = " (gray)" if face["gray"] else ""
    text = (
        f"{face['name']}{gray}: own photo {own:.3f} (L2 {face['own_l2']:.3f}), mean face {mean:.3f} "
        f"(L2 {face['mean_face_l2']:.3f}): {verdict} the mean face; own photo ranked {int(face['rank'])}/{n}"
    )
    if face.get("landmark_error") is not None:
        text += f"; landmark error {face['landmark_error']:.3f} IOD"
    return text


def write_result(result: dict, output_dir: str) -> str:
    """Writes real_photos.json atomically; returns its path."""
    path = os.path.join(output_dir, RESULT_FILE)
    write_text_atomic(path, json.dumps(json_ready(result), indent=2))
    return path


# The evaluation ---------------------------------------------------------------------------------


def evaluate_real_photos(
    regressor,
    photos: list[tuple[str, np.ndarray]],
    output_dir: str,
    labels_path: str | None = None,
    aliases: dict[str, str] | None = None,
    notes: list[str] | tuple[str, ...] = (),
) -> dict:
    """Reconstructs and scores every face of `photos`; writes real_photos.json and report.html.

    Args:
        regressor: a `LoadedRegressor` (`headsynth.components.prediction.predict.load_regressor`).
        photos: (name, `[H, W, 3]` uint8 RGB) pairs; names must be distinct.
        output_dir: where the JSON, the report and its figure go.
        labels_path: a CSV of photo,person rows (see `read_labels`), or None.
        aliases: file names and paths -> photo name, for the labels file.
        notes: notes to carry into the result (e.g. packaged photos left out).

    Returns:
        The JSON-ready result (module docstring); "summary" holds the counts.

    Raises:
        FaceNotFound: if no photo shows a face.
        DataError: for a bad labels file.
    """
    images = dict(photos)
    if len(images) != len(photos):
        raise DataError("Two photos have the same name.", "Give every photo a distinct file name.")
    with PhotoPredictor(regressor, "dlib") as predictor:
        faces, found_notes = find_faces(predictor.detector, photos)
        persons = read_labels(labels_path, faces, aliases) if labels_path else None
        q, crops = _reconstruct(predictor, images, faces)
        size = predictor.preview_size
        renders, masks = predictor.painter.render_with_masks(
            np.concatenate([q, np.zeros_like(q[:1])]), size, 0.0
        )
        embedded = _embed(predictor.scorer, images, faces, renders)
        posed = [_pose_overlay(predictor, images[f.photo], f, q[i]) for i, f in enumerate(faces)]
    gray = np.array([face.gray for face in faces])
    scores = face_scores(embedded["recon"], embedded["mean_face"], embedded["gallery"], gray)
    errors = np.array([np.nan if p is None else p.landmark_error for p in posed], np.float64)
    panels = [
        face_panel(crops[i], renders[i], masks[i], posed[i], face.gray, scores["own"][i])
        for i, face in enumerate(faces)
    ]
    result = {
        "backend": "dlib",
        "model": regressor.saved_model_dir,
        "face_model": regressor.face_model_source,
        "scale": regressor.scale,
        "photos": [
            {"name": name, "faces": sum(f.photo == name for f in faces), "gray": is_grayscale(image)}
            for name, image in photos
        ],
        "notes": [*notes, *found_notes],
        "faces": _face_rows(faces, q, scores, persons, errors),
        "matrix": {"names": [f.name for f in faces], "cosine": scores["cosine"], "l2": scores["l2"]},
        "summary": {
            **scores["summary"],
            "landmark_error_mean": nanmean(errors),
            "landmark_error_faces": int(np.sum(np.isfinite(errors))),
        },
        "labels": _labels_result(embedded, persons) if persons is not None else None,
    }
    tf.io.gfile.makedirs(output_dir)
    result["files"] = {
        "report": os.path.join(output_dir, REPORT_FILE),
        "json": os.path.join(output_dir, RESULT_FILE),
    }
    write_report(result, panels, output_dir)
    write_result(result, output_dir)
    return json_ready(result)


def _reconstruct(predictor, images: dict[str, np.ndarray], faces: list[PhotoFace]):
    """(`[F, m]` q, F crops) for every face, one batch per photo."""
    qs, crops = [], []
    for name, image in images.items():
        mine = [face.box for face in faces if face.photo == name]
        if mine:
            q, photo_crops = predictor.predict_faces(image, mine)
            qs.append(q)
            crops.extend(photo_crops)
    return np.concatenate(qs).astype(np.float32), crops


def _pose_overlay(predictor, photo: np.ndarray, face: PhotoFace, q: np.ndarray):
    """The reconstruction drawn in the pose fitted to the face's mediapipe landmarks, with its landmark error.

    None when the face mesh finds no face in the box (the panel then blends the frontal rendering).
    """
    _, centre, side = predictor.crop_face(photo, face.box)
    return predictor.pose_overlay(photo, face.box, centre, side, q)


def _embed(scorer, images: dict[str, np.ndarray], faces: list[PhotoFace], renders: np.ndarray) -> dict:
    """dlib embeddings: "gallery" `[F, d]` photo faces; "recon" and "mean_face": (colour, gray) renderings.

    `renders` holds the F reconstructions, then the mean face. A rendering without a
    detectable face gets NaN embeddings (it is scored as a failure).
    """
    gallery = np.stack([scorer.embed(images[f.photo], f"photo {f.photo}", face=f.box)[0] for f in faces])
    width = gallery.shape[1]

    def rendering(image: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
        try:
            colour, box = scorer.embed(image, what)
        except FaceNotFound:
            return np.full(width, np.nan), np.full(width, np.nan)
        # The same box for the gray version: only the colour differs between the two.
        return colour, scorer.embed(to_grayscale(image), what, face=box)[0]

    pairs = [
        rendering(render, f"the reconstruction of {face.name}")
        for render, face in zip(renders[:-1], faces, strict=True)
    ]
    return {
        "gallery": gallery,
        "recon": (np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])),
        "mean_face": rendering(renders[-1], "the mean face"),
    }


def _face_rows(
    faces: list[PhotoFace], q: np.ndarray, scores: dict, persons: list[str | None] | None, errors: np.ndarray
) -> list[dict]:
    """One JSON row per face: where it is, its scores, its landmark error (`errors`, NaN: none) and its q."""
    rows = []
    for i, face in enumerate(faces):
        rows.append(
            {
                "name": face.name,
                "photo": face.photo,
                "person": persons[i] if persons else None,
                "gray": face.gray,
                "box": face.box.to_dict()["box"],
                "detection_score": face.box.score,
                "own_similarity": scores["own"][i],
                "mean_face_similarity": scores["mean_face"][i],
                "above_mean_face": bool(scores["own"][i] > scores["mean_face"][i]),
                "own_l2": scores["own_l2"][i],
                "mean_face_l2": scores["mean_face_l2"][i],
                "verified": bool(scores["own_l2"][i] < DLIB_THRESHOLD),
                "mean_face_verified": bool(scores["mean_face_l2"][i] < DLIB_THRESHOLD),
                "rank": scores["rank"][i],
                "rank_l2": scores["rank_l2"][i],
                "landmark_error": errors[i],
                "q": q[i],
            }
        )
    return rows


def _labels_result(embedded: dict, persons: list[str | None]) -> dict:
    """Same-person vs different-person pairs, of the reconstructions and (for reference) of the photo faces."""
    return {
        "labelled_faces": sum(p is not None for p in persons),
        "people": len({p for p in persons if p}),
        "reconstructions": label_comparison(embedded["recon"][0], persons),
        "photos": label_comparison(embedded["gallery"], persons),
    }


# The Evaluate step's part ---------------------------------------------------------------------

STEP_FOLDER = "real_photos"


def evaluate_model_on_real_photos(saved_model_dir: str, source: str, output_dir: str, scale: float) -> dict:
    """The Evaluate step's real-photo evaluation of one SavedModel, written to `output_dir/real_photos/`.

    Args:
        saved_model_dir: the exported SavedModel (its face model is in assets.extra).
        source: "packaged" (the photos that ship in installed packages) or a folder of photos.
        output_dir: the Evaluation artifact's folder.
        scale: p = scale * sigma * q of the rendered examples.

    Returns:
        metrics.json's "real_photos": source, summary, per-face scores, notes, seconds, files.
    """
    started = time.monotonic()
    if source == "packaged":
        photos, notes = packaged_photos()
        aliases = {}
    else:
        (photos, aliases), notes = load_photos([source]), []
    regressor = load_regressor(saved_model_dir, scale=scale)
    folder = os.path.join(output_dir, STEP_FOLDER)
    result = evaluate_real_photos(regressor, photos, folder, aliases=aliases, notes=notes)
    keys = (
        "name",
        "gray",
        "own_similarity",
        "mean_face_similarity",
        "above_mean_face",
        "own_l2",
        "mean_face_l2",
    )
    return {
        "source": source,
        "summary": result["summary"],
        "faces": [{key: face[key] for key in (*keys, "rank", "landmark_error")} for face in result["faces"]],
        "notes": result["notes"],
        "seconds": time.monotonic() - started,
        "report": os.path.join(folder, REPORT_FILE),
        "json": os.path.join(folder, RESULT_FILE),
    }
