"""`headsynth predict PHOTO... --model DIR`: a head from each photo (mesh, preview, identity score).

PHOTO is an image file, or `skimage:NAME` for one of scikit-image's sample
photographs (e.g. `skimage:astronaut`). DIR is a SavedModel folder, a
`headsynth run` output folder, or a study's network folder (nets/<scenario>).
"""

from __future__ import annotations

import argparse
import os
import sys

from headsynth.core.errors import HeadsynthError
from headsynth.core.photos import load_photo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photos", nargs="+", metavar="PHOTO", help="image files, or skimage:astronaut")
    parser.add_argument("--model", required=True, metavar="DIR", help="SavedModel, run or study-net folder")
    parser.add_argument("--out", default="predictions", help="output folder (default: predictions)")
    parser.add_argument(
        "--face-model", default=None, help="the face model .npz (default: found beside the model)"
    )
    parser.add_argument(
        "--scale", type=float, default=None, help="p = scale * sigma * q (default: the run's, or 1.6)"
    )
    parser.add_argument(
        "--identity-backend",
        default="dlib",
        help="dlib (offline), vgg-face, arcface, facenet512 (deepface weights needed), or none",
    )
    parser.add_argument(
        "--corrected-n", type=float, default=30.0, help="n of the corrected score (thesis Eq. 6.2)"
    )


def command(args: argparse.Namespace) -> int:
    # Imported when the command runs: `headsynth --help` builds every parser and must not load TFX.
    from headsynth.components.identity.embedding import check_backend
    from headsynth.components.prediction.predict import PhotoPredictor, load_regressor
    from headsynth.components.rendering.rasterizer import require_rasterizer
    from headsynth.report.html import HtmlReport

    if args.identity_backend != "none":
        check_backend(args.identity_backend)
    require_rasterizer()
    regressor = load_regressor(args.model, args.face_model, args.scale)
    report = HtmlReport("headsynth predict")
    report.paragraph(
        f"Model: {regressor.saved_model_dir}; face model: {regressor.face_model_source}; scale {regressor.scale:g}."
    )
    failures = 0
    rows = []
    with PhotoPredictor(regressor, args.identity_backend, args.corrected_n) as predictor:
        for spec in args.photos:
            try:
                photo, stem = load_photo(spec)
                result = predictor.predict(photo, args.out, stem, what=f"photo {spec}")
            except HeadsynthError as error:
                failures += 1
                print(f"headsynth: error: {spec}: {error}", file=sys.stderr)
                continue
            score = "n/a" if result.identity_score is None else f"{result.identity_score:.3f}"
            corrected = "n/a" if result.corrected_score is None else f"{result.corrected_score:.3f}"
            print(
                f"{spec}: identity score {score} (corrected {corrected}, mean |p|/sigma {result.instance_sigma:.2f})"
            )
            for name, path in result.files.items():
                print(f"  {name:<9} {path}")
            if result.note:
                print(f"  note: {result.note}")
            rows.append([spec, score, corrected, f"{result.instance_sigma:.2f}"])
            report.heading(spec)
            report.image(
                result.files["preview"], "input crop | frontal rendering of the prediction | overlay"
            )
    if rows:
        report.heading("Identity scores")
        report.table(
            [f"photo ({args.identity_backend})", "identity score", "corrected score", "mean |p|/sigma"], rows
        )
        path = report.write(os.path.join(args.out, "report.html"))
        print(f"\nReport: {path}")
    return 2 if failures else 0
