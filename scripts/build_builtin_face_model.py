"""Regenerates the shipped built-in face model (deterministic).

Run: python scripts/build_builtin_face_model.py [--out PATH]
"""

import argparse
import hashlib

from headsynth.components.face_model.builtin import BUILTIN_FILE, build_builtin_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(BUILTIN_FILE))
    args = parser.parse_args()
    model = build_builtin_model()
    model.save_npz(args.out)
    digest = hashlib.sha256(open(args.out, "rb").read()).hexdigest()[:16]
    print(model.summary())
    print(f"wrote {args.out} (sha256 {digest})")


if __name__ == "__main__":
    main()
