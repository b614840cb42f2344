"""Regenerates the shipped built-in face model (deterministic: same code, same bytes).

Run: python scripts/build_builtin_face_model.py [--out PATH] [--population 400] [--components 50]
"""

import argparse
import hashlib
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from builtin_face_model.build import DEFAULT_SEED, build_builtin_model  # noqa: E402

from headsynth.morphable.builtin import BUILTIN_FILE  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(BUILTIN_FILE))
    parser.add_argument("--population", type=int, default=400, help="identities the PCA is built from")
    parser.add_argument("--components", type=int, default=50, help="shape and texture components kept")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    start = time.perf_counter()
    model = build_builtin_model(population_size=args.population, components=args.components, seed=args.seed)
    model.save_npz(args.out)
    seconds = time.perf_counter() - start
    with open(args.out, "rb") as f:
        data = f.read()
    print(model.summary())
    print(
        f"wrote {args.out} ({len(data) / 1e6:.1f} MB, sha256 {hashlib.sha256(data).hexdigest()[:16]}) "
        f"in {seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
