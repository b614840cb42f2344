"""`headsynth diversity FILE... [--reference FILE]`: the thesis's Tables 6.3-6.5 for parameter files.

    headsynth diversity samples/gmm_8.npz samples/naive_uniform.npz --reference realistic/fit.npz

Each FILE is a parameter file (`.npz`/`.npy`/`.csv`, see
`data_schemas/parameter_files.py`); `--scale` (and `--reference-scale`) convert
q to sigma units (q * scale; 1.6 for the paper's q), so distances are comparable. The
reference (realistic vectors) gives the KS table and the PCA space of the
figures; files with `age`/`sex` labels are coloured by them. Writes
`diversity.json` and the figures into `--out`.
"""

from __future__ import annotations

import argparse
import os

from headsynth.core.errors import ParameterError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="parameter files (.npz, .npy, .csv)")
    parser.add_argument("--reference", default=None, help="realistic vectors: KS reference and PCA space")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="q of the FILEs is at this scale (default 1)"
    )
    parser.add_argument(
        "--reference-scale", type=float, default=1.0, help="q of the reference is at this scale (default 1)"
    )
    parser.add_argument("--out", default="diversity", help="output folder (default: diversity)")
    parser.add_argument("--seed", type=int, default=0, help="k-means and subsampling seed")


def command(args: argparse.Namespace) -> int:
    # Imported when the command runs: `headsynth --help` builds every parser and must not load TFX.
    from headsynth.components.diversity.tables import measure_sets, text_tables
    from headsynth.data_schemas.parameter_files import load_labelled_parameter_file

    sets, labels = {}, {}
    reference = None
    paths = [(args.reference, args.reference_scale)] if args.reference else []
    paths += [(path, args.scale) for path in args.files]
    for i, (path, scale) in enumerate(paths):
        q, file_labels = load_labelled_parameter_file(path, min_rows=2)
        name = os.path.basename(path)
        if name in sets:
            name = path
        sets[name] = q * scale
        labels[name] = file_labels
        if i == 0 and args.reference:
            reference = sets[name]
    widths = {q.shape[1] for q in sets.values()}
    if len(widths) > 1:
        raise ParameterError(
            f"The files have different widths {sorted(widths)}.", "Compare vectors of the same face model."
        )
    result = measure_sets(
        sets,
        reference,
        args.out,
        labels=labels,
        reference_name=os.path.basename(args.reference) if args.reference else "",
        seed=args.seed,
    )
    print(text_tables(result["summaries"]))
    print(f"\nResults: {result['json']}")
    for path in result["figures"]:
        print(f"Figure: {path}")
    return 0
