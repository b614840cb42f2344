"""The report of `real_photos.evaluate_real_photos`: per face photo | reconstruction | overlay, matrix, tables."""

from __future__ import annotations

import os

import numpy as np

from headsynth.components.prediction.predict import encode_png, label_image
from headsynth.core.photos import to_grayscale
from headsynth.report.figures import plot_similarity_matrix
from headsynth.report.html import HtmlReport
from headsynth.report.values import fmt

MATRIX_FIGURE = "similarity_matrix.png"

HOW_TO_READ = (
    "How to read this: each face the detector found in the photos was cropped as the training renders "
    "frame a head, reconstructed by the network and rendered frontally; dlib embedded the photo faces and "
    "the renderings. A reconstruction that keeps the person's identity is more similar to its own photo "
    "(the matrix's diagonal) than the mean face (q = 0, the naive predictor that answers the same head "
    "for everyone) is, and more similar to its own photo than to the other photos (rank 1; chance is "
    "1/N). dlib calls two faces one person below an L2 distance of {threshold:g}; on real photos of "
    "different people its cosine similarities are already 0.82-0.89, so compare rows and columns, not "
    "absolute values. A grayscale photo is compared with grayscale versions of the renderings (the "
    "reconstruction's and the mean face's alike), so colour the photo does not have counts neither for "
    "nor against a reconstruction."
)


def blend(crop: np.ndarray, rendering: np.ndarray, mask: np.ndarray, alpha: float) -> np.ndarray:
    """`[S, S, 3]` uint8: `rendering` alpha-blended over `crop` where `mask` (`[S, S]` bool) is set."""
    weight = alpha * np.asarray(mask, np.float32)[..., None]
    return np.clip(np.rint(crop * (1.0 - weight) + rendering * weight), 0, 255).astype(np.uint8)


def face_panel(
    crop: np.ndarray, frontal: np.ndarray, frontal_mask: np.ndarray, posed, grayscale: bool, own: float
) -> np.ndarray:
    """`[S, 3S, 3]` uint8: the photo's crop | the frontal reconstruction | the overlay.

    Args:
        crop: `[S, S, 3]` the face crop the network saw.
        frontal: `[S, S, 3]` the frontal rendering of the reconstruction; `frontal_mask` its head.
        posed: the fitting module's `PoseOverlay` (the reconstruction in the photo's pose over
            the crop), or None when no landmarks were found: then the frontal rendering is blended in.
        grayscale: the photo is gray; the renderings are shown (and were compared) in gray.
        own: the reconstruction's similarity to its own photo (for the caption).
    """
    shown = to_grayscale(frontal) if grayscale else frontal
    if posed is None:
        overlay, caption = blend(crop, shown, frontal_mask, 0.5), "frontal over photo"
    else:
        rendering = to_grayscale(posed.rendering) if grayscale else posed.rendering
        overlay = blend(crop, rendering, posed.mask, 0.6)
        caption = f"in photo pose, lm {fmt(posed.landmark_error, 2)}"
    return np.concatenate(
        [
            label_image(crop, "photo"),
            label_image(shown, f"reconstruction {'(gray) ' if grayscale else ''}{fmt(own)}"),
            label_image(overlay, caption),
        ],
        axis=1,
    )


def write_report(result: dict, panels: list[np.ndarray], output_dir: str, title: str = "") -> str:
    """Writes report.html (self-contained) and the matrix figure into `output_dir`; returns the report's path."""
    summary = result["summary"]
    report = HtmlReport(title or "headsynth: reconstructions of real photos")
    report.paragraph(
        f"Model: {result['model']}; face model: {result['face_model']}; scale {result['scale']:g}. "
        f"{summary['faces']} faces in {len(result['photos'])} photos; identity by {result['backend']}."
    )
    report.paragraph(HOW_TO_READ.format(threshold=summary["threshold"]))
    add_summary(report, result)
    names = result["matrix"]["names"]
    figure = os.path.join(output_dir, MATRIX_FIGURE)
    plot_similarity_matrix(result["matrix"]["cosine"], names, names, figure)
    report.image(figure, "Cosine similarity of each reconstruction (row) to each photo face (column).")
    l2_rows = [
        [name, *(fmt(v) for v in row)] for name, row in zip(names, result["matrix"]["l2"], strict=True)
    ]
    report.table(
        ["reconstruction \\ photo face (dlib L2)", *names],
        l2_rows,
        highlight={(i, i + 1) for i in range(len(names))},
    )
    report.heading("Faces")
    for face, panel in zip(result["faces"], panels, strict=True):
        report.image(
            encode_png(panel),
            f"{face['name']}: photo crop | frontal reconstruction (own-photo similarity) | the "
            "reconstruction in the pose fitted to the photo's landmarks, over the crop (lm: landmark error)",
        )
    if result.get("labels"):
        add_labels(report, result["labels"])
    for note in result["notes"]:
        report.paragraph(note, "note")
    return report.write(os.path.join(output_dir, "report.html"))


def add_face_table(report: HtmlReport, result: dict) -> None:
    """One row per face: similarities to its own photo and to the mean face, rank, landmark error."""
    n = result["summary"]["faces"]
    rows = [
        [
            face["name"] + (" (gray)" if face["gray"] else ""),
            fmt(face["own_similarity"]),
            fmt(face["mean_face_similarity"]),
            "yes" if face["above_mean_face"] else "no",
            fmt(face["own_l2"]),
            fmt(face["mean_face_l2"]),
            "n/a" if face["rank"] is None else f"{int(face['rank'])}/{n}",
            fmt(face["landmark_error"]),
        ]
        for face in result["faces"]
    ]
    header = ["face", "own photo (cos)", "mean face (cos)", "own > mean face", "own L2", "mean face L2"]
    report.table([*header, "rank of own photo", "landmark error (IOD)"], rows)


def add_summary(report: HtmlReport, result: dict) -> None:
    """The per-face table and the counts."""
    summary = result["summary"]
    n = summary["faces"]
    report.heading("Per face")
    add_face_table(report, result)
    threshold = summary["threshold"]
    counts = [
        ["own photo above the mean face", f"{summary['own_above_mean_face']}/{n}"],
        ["rank-1 identification (cosine)", f"{summary['rank1']}/{n} (chance 1/{n})"],
        ["rank-1 identification (L2)", f"{summary['rank1_l2']}/{n} (chance 1/{n})"],
        [f"verified, L2 < {threshold:g}: reconstructions", f"{summary['verified']}/{n}"],
        [f"verified, L2 < {threshold:g}: mean face", f"{summary['mean_face_verified']}/{n}"],
        [
            "other photos accepted (L2 below threshold)",
            f"{summary['other_photos_accepted']}/{summary['other_pairs']}",
        ],
        [
            "mean cosine: own photo / mean face / other photos",
            " / ".join(
                fmt(summary[k])
                for k in ("own_similarity_mean", "mean_face_similarity_mean", "other_similarity_mean")
            ),
        ],
        ["landmark error, mean (inter-ocular distances)", fmt(summary.get("landmark_error_mean"))],
    ]
    report.table(["measure", "value"], counts)


def add_labels(report: HtmlReport, labels: dict) -> None:
    """Same-person vs different-person pairs, reconstructions beside the photos themselves."""
    report.heading("Same person vs different people")
    report.paragraph(
        f"{labels['labelled_faces']} labelled faces of {labels['people']} people. For every pair of labelled "
        "faces, the L2 distance of their reconstructions (and, for reference, of the photo faces): a "
        "reconstruction keeps identity when one person's pairs are closer than two people's pairs. "
        "'closer' is the share of (same-person pair, different-person pair) combinations where the "
        "same-person pair is closer (0.5: no better than chance)."
    )
    rows = []
    for what in ("reconstructions", "photos"):
        part = labels[what]
        rows.append(
            [
                what,
                f"{part['same_pairs']} / {part['different_pairs']}",
                fmt(part["same_l2_mean"]),
                fmt(part["different_l2_mean"]),
                fmt(part["closer_fraction"]),
            ]
        )
    report.table(["embeddings of", "pairs same / different", "same L2", "different L2", "closer"], rows)
