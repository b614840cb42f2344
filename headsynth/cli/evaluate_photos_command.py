"""`headsynth evaluate-photos [PHOTO|DIR ...] --model DIR [--labels CSV]`: reconstructions of real photos, scored.

Every face in the photos is reconstructed by the regressor and scored with
dlib against its own photo, every other photo and the mean face (q = 0);
rank-1 identification, dlib's verification rate (L2 < 0.6), the landmark
error and, with `--labels photo,person`, same-person vs different-person
pairs. Without photos it uses the real photographs that ship in the
installed packages (scikit-image's astronaut and cameraman, matplotlib's
Grace Hopper), offline. Writes real_photos.json and report.html to `--out`.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "photos",
        nargs="*",
        metavar="PHOTO|DIR",
        help="image files, folders of them, or skimage:NAME (default: the photos that ship in packages)",
    )
    parser.add_argument("--model", required=True, metavar="DIR", help="SavedModel, run or study-net folder")
    parser.add_argument(
        "--labels", default=None, metavar="CSV", help="photo,person rows: same vs different people"
    )
    parser.add_argument("--out", default="real_photos", help="output folder (default: real_photos)")
    parser.add_argument(
        "--face-model", default=None, help="the face model .npz (default: found beside the model)"
    )
    parser.add_argument(
        "--scale", type=float, default=None, help="p = scale * sigma * q (default: the run's, or 1.6)"
    )


def command(args: argparse.Namespace) -> int:
    # Imported when the command runs: `headsynth --help` builds every parser and must not load TensorFlow.
    from headsynth.components.evaluation.real_photos import evaluate_real_photos, face_line, summary_line
    from headsynth.components.identity.embedding import check_backend
    from headsynth.components.prediction.predict import load_regressor
    from headsynth.components.rendering.rasterizer import require_rasterizer
    from headsynth.core.errors import DataError
    from headsynth.core.logs import filtered_stderr
    from headsynth.core.photos import load_photos, packaged_photos

    check_backend("dlib")
    require_rasterizer()
    regressor = load_regressor(args.model, args.face_model, args.scale)  # a bad model fails before any work
    unreadable: list[str] = []
    if args.photos:
        photos, aliases = load_photos(args.photos, problems=unreadable)
        notes = [f"skipped: {line}" for line in unreadable]
        for line in unreadable:  # one line per bad file; the others are evaluated
            print(f"headsynth: error: {line}", file=sys.stderr)
    else:
        photos, notes = packaged_photos()
        aliases = {}
        if not photos:
            raise DataError(" ".join(notes) or "No packaged photos.", "Pass photos or folders of photos.")
    # mediapipe's detector and face mesh announce their TFLite delegates at their first inferences.
    with filtered_stderr():
        result = evaluate_real_photos(regressor, photos, args.out, args.labels, aliases, notes)
    summary = result["summary"]
    for face in result["faces"]:
        print(face_line(face, summary["faces"]))
    for note in result["notes"]:
        print(f"note: {note}")
    print(summary_line(summary))
    if result["labels"]:
        print(labels_line(result["labels"]))
    print(f"Report: {result['files']['report']}")
    return 2 if unreadable else 0


def labels_line(labels: dict) -> str:
    """Same-person vs different-person pairs of reconstructions (and of the photos, for reference)."""
    from headsynth.report.values import fmt

    parts = []
    for what in ("reconstructions", "photos"):
        part = labels[what]
        closer = part["closer_fraction"]
        parts.append(
            f"{what}: same person L2 {fmt(part['same_l2_mean'])} ({part['same_pairs']} pairs), "
            f"different {fmt(part['different_l2_mean'])} ({part['different_pairs']} pairs), "
            f"same closer in {fmt(closer)} of combinations"
        )
    return "labels: " + "; ".join(parts)
