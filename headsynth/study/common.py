"""What both studies share: folder stamps that let a rerun reuse finished work, and the training loop."""

from __future__ import annotations

import dataclasses
import json
import os
import time

from headsynth.components.identity.embedding import check_backend
from headsynth.components.rendering.rasterizer import require_rasterizer
from headsynth.components.training.fit import train_regressor
from headsynth.components.training.settings import TrainSettings
from headsynth.config import HeadsynthConfig
from headsynth.core.io_utils import write_text_atomic
from headsynth.core.progress import report
from headsynth.data_schemas.render_summary import rendered_framing
from headsynth.morphable.model import MorphableModel

STAMP = "stamp.json"


def start_study(config: HeadsynthConfig, out_dir: str) -> str:
    """Checks what a study needs before any work, then writes its config.json; returns the absolute folder.

    Raises:
        IdentityBackendUnavailable: if the identity backend cannot run.
        RasterizerUnavailable: if the renderer's ops are not built.
    """
    if config.evaluation.identity_backend != "none":
        check_backend(config.evaluation.identity_backend)
    require_rasterizer()
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    write_text_atomic(os.path.join(out_dir, "config.json"), config.to_json())
    return out_dir


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


def training_stamp(settings: TrainSettings) -> dict:
    """The settings as one flat dict: the training section's fields, `image_size` and `scale`."""
    return {
        **dataclasses.asdict(settings.training),
        "image_size": settings.image_size,
        "scale": settings.scale,
    }


def train_study_networks(
    settings: TrainSettings,
    model: MorphableModel,
    out_dir: str,
    data: dict[str, tuple[str, str]],
    required: list[str],
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
    results, seconds = {}, {}
    for name, (data_dir, validation) in data.items():
        folder = os.path.join(out_dir, "nets", name)
        with open(os.path.join(data_dir, STAMP)) as f:
            stamp = {"data": json.load(f), "training": training_stamp(settings)}
        result_path = os.path.join(folder, "logs", "training_result.json")
        if stamp_matches(folder, stamp, required):
            report("study", f"reusing the network trained on {name!r}")
            with open(result_path) as f:
                results[name] = json.load(f)
            seconds[name] = results[name].get("study_seconds", 0.0)
            continue
        report(
            "study",
            f"training on {name!r}: {settings.training.train_steps} steps of {settings.training.backbone}",
        )
        started = time.monotonic()
        result = train_regressor(
            os.path.join(data_dir, "Split-train", "*"),
            validation,
            model,
            settings,
            os.path.join(folder, "serving"),
            os.path.join(folder, "logs"),
            framing=rendered_framing(data_dir),
        )
        seconds[name] = time.monotonic() - started
        results[name] = {**result, "study_seconds": seconds[name]}
        write_text_atomic(result_path, json.dumps(results[name], indent=2, default=float))
        write_stamp(folder, stamp)
    return results, seconds
