"""Compiles the renderer's two C++ ops against the installed TensorFlow.

1. tensorflow-graphics' CPU rasteriser op. tensorflow-graphics 2021.12.3 ships
   a `rasterizer_op.so` built for TF 2.7 that does not load under TF 2.16, but
   its wheel also ships the C++ sources. They are compiled (about 7 s) and
   installed where tfg's CPU backend loads them from
   (`tensorflow_graphics/rendering/kernels/rasterizer_op.so`); the shipped
   binary is kept as `rasterizer_op.so.shipped`.
2. headsynth's ops (`headsynth/components/rendering/kernels/render_ops.cc`):
   vertex normals and front faces before rasterisation, and one op that
   rasterises each image's front faces with tfg's rasteriser function
   (compiled in from tfg's `rasterize_triangles_impl.cc`) and interpolates and
   composites the head in the same pass.

Each is rebuilt only when it does not load or when its source or the compiler
flags changed (recorded in a `.stamp` file beside the library). Exit status 0
means both ops load.

Run: python scripts/build_rasterizer.py [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# -O3 lets g++ vectorise the per-pixel loops: about 1.4x the -O2 speed of the
# rasteriser (benchmarks/render_throughput.py). No -march: the ops must run on
# any x86-64 machine the image or the venv is copied to.
OPTIMISATION = ["-O3"]
HERE = Path(__file__).resolve().parent.parent


def kernels_dir() -> Path:
    import tensorflow_graphics

    return Path(tensorflow_graphics.__file__).parent / "rendering" / "kernels"


def render_ops_source() -> Path:
    return HERE / "headsynth" / "components" / "rendering" / "kernels" / "render_ops.cc"


def op_loads(path: Path, function: str) -> str:
    """Returns "" if the op library loads in a fresh interpreter and has `function`, else the error text."""
    probe = (
        "import tensorflow as tf, sys; "
        f"ops = tf.load_op_library({str(path)!r}); "
        f"assert hasattr(ops, {function!r})"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    if result.returncode == 0:
        return ""
    return (result.stderr.strip().splitlines() or ["unknown error"])[-1]


def compile_op(sources: list[Path], destination: Path) -> None:
    import tensorflow as tf

    for source in sources:
        if not source.exists():
            sys.exit(f"error: {source} is missing; reinstall the package that ships it.")
    command = [
        os.environ.get("CXX", "g++"),
        "-std=c++17",
        "-shared",
        "-fPIC",
        *OPTIMISATION,
        *[str(s) for s in sources],
        f"-I{kernels_dir()}",  # tfg's rasteriser header, for headsynth's ops
        "-o",
        str(destination),
        *tf.sysconfig.get_compile_flags(),
        *tf.sysconfig.get_link_flags(),
    ]
    print("building:", " ".join(command[: 5 + len(OPTIMISATION) + len(sources)]), "...", flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(
            f"error: compiling {sources[0].name} failed (g++ exit {result.returncode}). "
            "Install g++ (C++17) and rerun `python scripts/build_rasterizer.py`.\n"
            f"{result.stderr[-3000:]}"
        )


def build(sources: list[Path], target: Path, function: str, force: bool) -> None:
    """Compiles `sources` into `target` unless it loads and was built from the same sources and flags."""
    digest = hashlib.sha256(" ".join(OPTIMISATION).encode())
    for source in sources:
        digest.update(source.read_bytes() if source.exists() else b"")
    stamp = target.with_name(target.name + ".stamp")
    current = stamp.exists() and stamp.read_text() == digest.hexdigest()
    if not force and current and target.exists() and not op_loads(target, function):
        print(f"op loads: {target}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / target.name
        compile_op(sources, built)
        error = op_loads(built, function)
        if error:
            sys.exit(f"error: the compiled op {target.name} does not load: {error}")
        shutil.copy2(built, target.with_suffix(".so.tmp"))
        os.replace(target.with_suffix(".so.tmp"), target)
    stamp.write_text(digest.hexdigest())
    print(f"op built and loads: {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the ops load")
    args = parser.parse_args(argv)
    rasterizer = kernels_dir() / "rasterizer_op.so"
    shipped = rasterizer.with_name("rasterizer_op.so.shipped")
    if rasterizer.exists() and not shipped.exists():
        shutil.copy2(rasterizer, shipped)
    sources = [kernels_dir() / "rasterize_triangles_op.cc", kernels_dir() / "rasterize_triangles_impl.cc"]
    build(sources, rasterizer, "rasterize_triangles", args.force)
    render_ops = render_ops_source()
    # headsynth's ops call tfg's rasteriser function, compiled in from the same source.
    build([render_ops, sources[1]], render_ops.with_suffix(".so"), "rasterize_and_composite", args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
