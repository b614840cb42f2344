"""Packages headsynth for the local venv, Beam workers and the container image.

Remote Beam runners (Dataflow, Flink, Spark) receive the code through
`--beam-arg=--setup_file=./setup.py` (or `/headsynth/setup.py` inside the
image): Beam builds an sdist from this file (`MANIFEST.in` adds the
requirements it reads and the data files) and every worker pip-installs it.
Workers should run the project's image (`--sdk_container_image` /
`--environment_config`), which already holds the locked set and the compiled
rasteriser op, so the install only adds the current code. The local set-up
and the image install the package with `--no-deps` beside the locked set.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def requirements() -> list[str]:
    """The top-level requirements (`requirements/stack.txt`), without comments."""
    lines = (HERE / "requirements" / "stack.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


setup(
    name="headsynth",
    version="0.1.0",
    description="Synthetic-data 3D head reconstruction pipeline on TFX and Keras",
    python_requires=">=3.10",
    packages=find_packages(include=["headsynth", "headsynth.*"]),
    package_data={"headsynth": ["data/*.npz", "data_schemas/*.pbtxt", "components/rendering/kernels/*.cc"]},
    include_package_data=True,
    install_requires=requirements(),
    entry_points={"console_scripts": ["headsynth=headsynth.cli.main:main"]},
)
