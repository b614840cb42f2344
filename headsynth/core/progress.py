"""One-line progress messages from pipeline steps, shown above TFX's own logging."""

from __future__ import annotations

import sys
import time

_START = time.monotonic()


def report(step: str, message: str) -> None:
    """Prints `[  12s] Step: message` to stderr, flushed at once."""
    print(f"[{time.monotonic() - _START:6.0f}s] {step}: {message}", file=sys.stderr, flush=True)
