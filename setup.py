"""Packages headsynth for the local venv, Beam workers and the container image.

Remote Beam runners (Dataflow, Flink, Spark) receive the code through
`--setup_file ./setup.py`; the container image installs it with the locked set.
"""

from pathlib import Path

from setuptools import find_packages, setup

REQUIREMENTS = [
    line.strip()
    for line in (Path(__file__).parent / "requirements" / "stack.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]

setup(
    name="headsynth",
    version="0.1.0",
    description="Synthetic-data 3D head reconstruction pipeline on TFX and Keras",
    python_requires=">=3.10",
    packages=find_packages(include=["headsynth", "headsynth.*"]),
    package_data={"headsynth": ["data/*.npz", "data_schemas/*.pbtxt"]},
    include_package_data=True,
    install_requires=REQUIREMENTS,
    entry_points={"console_scripts": ["headsynth=headsynth.pipeline.cli:main"]},
)
