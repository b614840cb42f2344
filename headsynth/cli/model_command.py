"""`headsynth model`: summary, identity grid, component sweep and mesh export of a model."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the `headsynth model` arguments to a (sub)parser."""
    parser.add_argument(
        "--source",
        default="builtin",
        help="'builtin', a headsynth .npz model or a Basel Face Model 2017 .h5 file (default: builtin)",
    )
    parser.add_argument(
        "--shape-components",
        type=int,
        default=0,
        metavar="K",
        help="keep the first K shape components (0: all)",
    )
    parser.add_argument(
        "--texture-components",
        type=int,
        default=0,
        metavar="K",
        help="keep the first K texture components (0: all)",
    )
    parser.add_argument("--grid", metavar="PNG", help="write a grid of random identities q ~ N(0, I)")
    parser.add_argument("--sweep", metavar="PNG", help="write each component from -3 to +3 sigma")
    parser.add_argument(
        "--export-mesh",
        metavar="PATH",
        help="write the head q ~ N(0, I) drawn with --seed as .obj or .ply (scale 1: q in sigma units)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the grid and the exported head (default 0)"
    )
    parser.add_argument("--image-size", type=int, default=128, metavar="PX", help="tile size of the PNGs")


def command(args: argparse.Namespace) -> int:
    """Runs `headsynth model`: prints the summary and writes the requested files.

    Raises:
        ModelFileError: if the model cannot be loaded.
    """
    # Imported when the command runs: `headsynth --help` builds every parser and must not load TensorFlow.
    from headsynth.components.evaluation.inspect_model import (
        render_component_sweep,
        render_identity_grid,
        summarize,
    )
    from headsynth.components.face_model.export import export_mesh
    from headsynth.components.sampling.samplers import sample_parameters
    from headsynth.morphable.loading import load_model

    model = load_model(args.source, args.shape_components, args.texture_components)
    print(summarize(model))
    if args.grid:
        render_identity_grid(model, args.grid, image_size=getattr(args, "image_size", 128), seed=args.seed)
        print(f"wrote identity grid {args.grid}")
    if args.sweep:
        render_component_sweep(model, args.sweep, image_size=getattr(args, "image_size", 128))
        print(f"wrote component sweep {args.sweep}")
    if args.export_mesh:
        q = sample_parameters("naive_normal", 1, model.num_parameters, args.seed, {"std": 1.0})[0]
        export_mesh(model, q, args.export_mesh, scale=1.0)
        print(f"wrote mesh {args.export_mesh} (seed {args.seed})")
    return 0
