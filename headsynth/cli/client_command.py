"""`headsynth client PHOTO...`: ask TF Serving for q (REST or gRPC), write each photo's mesh.

headsynth client --url http://localhost:8501 face.jpg                      # REST
headsynth client --transport grpc --url localhost:8500 face.jpg --format ply
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photos", nargs="+", metavar="PHOTO", help="JPEG or PNG photos (one request)")
    parser.add_argument(
        "--url",
        default=None,
        help="the server: http://HOST:8501 for REST, HOST:8500 for gRPC (default: localhost)",
    )
    parser.add_argument("--transport", choices=("rest", "grpc"), default="rest", help="default: rest")
    parser.add_argument(
        "--model-name", default="headsynth", help="TF Serving's --model_name (default: headsynth)"
    )
    parser.add_argument("--model-version", type=int, default=None, help="a version (default: the newest)")
    parser.add_argument("--signature", default="serving_default", help="default: serving_default")
    parser.add_argument(
        "--model-source",
        default="builtin",
        help="the face model q belongs to: builtin, or the run's FaceModel model.npz (default: builtin)",
    )
    parser.add_argument("--scale", type=float, default=1.6, help="p = scale * sigma * q (default: 1.6)")
    parser.add_argument("--out-dir", default=".", help="where <photo>.obj/.ply go (default: .)")
    parser.add_argument("--format", dest="mesh_format", choices=("obj", "ply"), default="obj")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default: 60)")


def command(args: argparse.Namespace, transport=None) -> int:
    """Runs the client; `transport` replaces the network one (tests inject an in-process one)."""
    # Imported when the command runs: `headsynth --help` builds every parser and must not load TensorFlow.
    from headsynth.serving.client import make_transport, predict_photos, read_photo, write_meshes

    for photo in args.photos:
        read_photo(photo)  # fail on a bad photo before any request
    own = transport is None
    transport = transport or make_transport(args.transport, args.url, args.timeout)
    try:
        reconstructions = predict_photos(
            args.photos, transport, args.model_name, args.signature, args.model_version
        )
    finally:
        if own and hasattr(transport, "close"):
            transport.close()
    write_meshes(reconstructions, args.out_dir, args.model_source, args.scale, args.mesh_format)
    for reconstruction in reconstructions:
        q = reconstruction.q
        preview = " ".join(f"{value:+.2f}" for value in q[:6]) + (" ..." if q.size > 6 else "")
        print(f"{reconstruction.photo} -> {reconstruction.mesh}  (q: {q.size} parameters: {preview})")
    return 0
