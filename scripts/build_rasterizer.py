"""Compiles tensorflow-graphics' CPU rasteriser op against the installed TensorFlow.

tensorflow-graphics 2021.12.3 ships a `rasterizer_op.so` built for TF 2.7 that
does not load under TF 2.16, but its wheel also ships the C++ sources. This
script compiles them (about 7 s) and installs the result where tfg's CPU
backend loads it from (`tensorflow_graphics/rendering/kernels/rasterizer_op.so`);
the shipped binary is kept as `rasterizer_op.so.shipped`. It does nothing when
the op already loads. Exit status 0 means the op loads.

Run: python scripts/build_rasterizer.py [--force]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def kernels_dir() -> Path:
    import tensorflow_graphics

    return Path(tensorflow_graphics.__file__).parent / "rendering" / "kernels"


def op_loads(path: Path) -> str:
    """Returns "" if the op library loads in a fresh interpreter, else the error text."""
    probe = (
        "import tensorflow as tf, sys; "
        f"ops = tf.load_op_library({str(path)!r}); "
        "assert hasattr(ops, 'rasterize_triangles')"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    if result.returncode == 0:
        return ""
    return (result.stderr.strip().splitlines() or ["unknown error"])[-1]


def compile_op(destination: Path) -> None:
    import tensorflow as tf

    sources = [kernels_dir() / "rasterize_triangles_op.cc", kernels_dir() / "rasterize_triangles_impl.cc"]
    for source in sources:
        if not source.exists():
            sys.exit(f"error: {source} is missing; reinstall tensorflow-graphics==2021.12.3.")
    command = [
        os.environ.get("CXX", "g++"),
        "-std=c++17",
        "-shared",
        "-fPIC",
        "-O2",
        *[str(s) for s in sources],
        "-o",
        str(destination),
        *tf.sysconfig.get_compile_flags(),
        *tf.sysconfig.get_link_flags(),
    ]
    print("building tensorflow-graphics rasteriser op:", " ".join(command[:8]), "...", flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(
            "error: compiling the tensorflow-graphics rasteriser op failed "
            f"(g++ exit {result.returncode}). Install g++ (C++17) and rerun "
            f"`python scripts/build_rasterizer.py`.\n{result.stderr[-3000:]}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the op loads")
    args = parser.parse_args(argv)
    target = kernels_dir() / "rasterizer_op.so"
    if not args.force and target.exists() and not op_loads(target):
        print(f"rasteriser op loads: {target}")
        return 0
    shipped = target.with_name("rasterizer_op.so.shipped")
    if target.exists() and not shipped.exists():
        shutil.copy2(target, shipped)
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / "rasterizer_op.so"
        compile_op(built)
        error = op_loads(built)
        if error:
            sys.exit(f"error: the compiled rasteriser op does not load: {error}")
        shutil.copy2(built, target.with_suffix(".so.tmp"))
        os.replace(target.with_suffix(".so.tmp"), target)
    print(f"rasteriser op built and loads: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
