"""`headsynth fit PHOTO|DIR ... --out vectors.npz`: the morphable model fitted to every face of photos.

PHOTO is an image file or `skimage:NAME` (e.g. `skimage:astronaut`); DIR
stands for the images in it. Each face gets one row: shape, texture (and
expression) fitted to mediapipe's landmarks and the photo's colours
(`headsynth.components.fitting`). The `.npz` is a parameter file (key `q`,
`[N, m]`), so it goes wherever one is accepted, plus per-face arrays:
    names [N] str       the photo's spec, then `#k` for its k-th face
    boxes [N, 4]        face box x0, y0, x1, y1 (pixels)
    expression [N, k]   expression coefficients (sigma units; k = 0 without an expression part)
    angles_deg [N, 3]   yaw, pitch, roll (the renderer's convention)
    pose_scale [N]      pixels per mm; pose_translation [N, 2] pixel of the head's centre
    residuals [N, 68]   landmark residuals in pixels; texture_mode [N] str (rgb, luminance, mean)
    scale ()            p = scale * sigma * q
"""

from __future__ import annotations

import argparse
import sys

from headsynth.core.photos import photo_specs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "photos", nargs="+", metavar="PHOTO", help="image files, folders, or skimage:astronaut"
    )
    parser.add_argument("--out", required=True, help="the .npz parameter file to write")
    parser.add_argument("--source", default="builtin", help="the morphable model: builtin or a .npz/.h5 path")
    parser.add_argument("--shape-components", type=int, default=0, help="shape components (0 keeps all)")
    parser.add_argument("--texture-components", type=int, default=0, help="texture components (0 keeps all)")
    parser.add_argument("--scale", type=float, default=1.6, help="p = scale * sigma * q (default 1.6)")


def command(args: argparse.Namespace) -> int:
    # Imported when the command runs: `headsynth --help` builds every parser and must not load them.
    from headsynth.components.fitting.batch import fit_photos, save_fits
    from headsynth.core.errors import DataError
    from headsynth.morphable.loading import load_model

    if not args.out.endswith(".npz"):
        raise DataError(f"--out must be a .npz file; got {args.out}.", "Use e.g. --out vectors.npz.")
    specs = photo_specs(args.photos)
    model = load_model(args.source, args.shape_components, args.texture_components)
    fits, problems = fit_photos(model, specs, args.scale, report=print)
    for problem in problems:
        print(f"headsynth: warning: {problem}", file=sys.stderr)
    if not fits:
        raise DataError(
            f"No face could be fitted in {len(specs)} photo(s): {'; '.join(problems)}",
            "Use photos with a clearly visible, roughly frontal face.",
        )
    save_fits(args.out, fits, args.scale)
    print(f"{len(fits)} face(s), q [{len(fits)}, {model.num_parameters}] -> {args.out}")
    return 0
