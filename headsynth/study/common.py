"""What both studies share: folder stamps that let a rerun reuse finished work, and the training loop."""

from __future__ import annotations

import dataclasses
import json
import os
import time

from headsynth.io_utils import write_text_atomic
from headsynth.progress import report

STAMP = "stamp.json"


def stamp_matches(folder: str, stamp: dict, required: list[str]) -> bool:
    """True if `folder` holds `stamp` (the inputs it was made from) and every `required` file."""
    path = os.path.join(folder, STAMP)
    if not os.path.exists(path) or not all(os.path.exists(os.path.join(folder, r)) for r in required):
        return False
    with open(path) as f:
        return json.load(f) == json.loads(json.dumps(stamp, default=str))


def write_stamp(folder: str, stamp: dict) -> None:
    """Records what `folder` was made from (written last, once its files are whole)."""
    os.makedirs(folder, exist_ok=True)
    write_text_atomic(os.path.join(folder, STAMP), json.dumps(stamp, indent=2, sort_keys=True, default=str))


def train_study_networks(
    settings, model, out_dir: str, data: dict[str, tuple[str, str]], required: list[str]
) -> tuple[dict, dict]:
    """Trains one network per training set with the same settings, reusing any already trained on the same data.

    Args:
        settings: the trainer's `TrainSettings`.
        model: the morphable model.
        out_dir: the study folder; network `name` goes to `<out_dir>/nets/<name>`.
        data: name -> (rendered examples folder holding `stamp.json`, validation file pattern).
        required: files (relative to the network's folder) a finished network has.

    Returns:
        (name -> training result, name -> seconds it took, recorded when it was trained).
    """
    from headsynth.components.training.trainer import train_regressor

    results, seconds = {}, {}
    for name, (data_dir, validation) in data.items():
        folder = os.path.join(out_dir, "nets", name)
        with open(os.path.join(data_dir, STAMP)) as f:
            stamp = {"data": json.load(f), "training": dataclasses.asdict(settings)}
        result_path = os.path.join(folder, "logs", "training_result.json")
        if stamp_matches(folder, stamp, required):
            report("study", f"reusing the network trained on {name!r}")
            with open(result_path) as f:
                results[name] = json.load(f)
            seconds[name] = results[name].get("study_seconds", 0.0)
            continue
        report("study", f"training on {name!r}: {settings.train_steps} steps of {settings.backbone}")
        started = time.monotonic()
        result = train_regressor(
            os.path.join(data_dir, "Split-train", "*"),
            validation,
            model,
            settings,
            os.path.join(folder, "serving"),
            os.path.join(folder, "logs"),
        )
        seconds[name] = time.monotonic() - started
        results[name] = {**result, "study_seconds": seconds[name]}
        write_text_atomic(result_path, json.dumps(results[name], indent=2, default=float))
        write_stamp(folder, stamp)
    return results, seconds
