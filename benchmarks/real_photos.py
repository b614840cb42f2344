"""The new quickstart regressor against the old design on real photos, side by side in one run.

Two designs trained on the same scenes (the quickstart preset's scenario,
parameters and seed), each by the whole TFX pipeline (`run_local`):

  new   the quickstart preset as it is: renders cropped around the face (128 px),
        the frozen `facemesh_colour` stem on cached features, the thesis's `mlp` head
  old   the design before it: whole renders at 64 px, `small_cnn` trained end to end,
        the `linear` head (adam 1e-3 with "inv" decay, batch 32, 2000 steps)

Then both SavedModels go through the same library call on the photos that ship
in the installed packages (`evaluate_model_on_real_photos`, dlib scores) and
one table prints, per design: the eval error on synthetic renders (net, naive
q = 0, net / naive), faces whose reconstruction is closer to their own photo
than the mean face, rank-1 identification against chance, dlib verification
(L2 < 0.6) of the reconstructions and of the mean face, the mean landmark
error (inter-ocular distances) and the own-photo similarity minus the mean
face's (mean and range over faces); then, per photo, each design's own
similarity beside the mean face's. The pipelines' own real-photo step is
switched off (`evaluation.real_photos=`): the benchmark scores both models
itself, once each.

Writes `<out>/new` and `<out>/old` (run folders, each with `real_photos/`)
and `<out>/real_photos_benchmark.json` (the table's figures and the reports'
paths).

Run: .venv/bin/python benchmarks/real_photos.py [--out DIR] [--quick] [--num-train N] [--keep]
(full: the preset's 8,000 renders per design, ~20 minutes on 2 cores; `--quick`: 600 renders and
150 steps per design, to check that it runs, a few minutes; `--keep` reuses the run folders
already under --out, so TFX's cache skips the steps whose inputs did not change.)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import time

DESIGNS = ("new", "old")
TITLES = {
    "new": "new: face crops 128, frozen facemesh_colour (cached) + mlp",
    "old": "old: full renders 64, small_cnn trained + linear",
}
# The old design, as the quickstart preset trained it before the face-cropped design (same scenes).
OLD_DESIGN = (
    "rendering.framing=full",
    "rendering.image_size=64",
    "training.backbone=small_cnn",
    "training.head=linear",
    "training.stem_mode=trained",
    "training.cache_stem_features=false",
    "training.base_learning_rate=1e-3",
    "training.lr_gamma=1e-4",
    "training.batch_size=32",
    "training.train_steps=2000",
    "training.steps_per_epoch=250",
)
# Both runs: the benchmark scores the real photos itself (one library call per model).
COMMON = ("evaluation.real_photos=",)
QUICK = (
    "sampling.num_train=600",
    "sampling.num_eval=100",
    "training.train_steps=150",
    "training.steps_per_epoch=50",
    "evaluation.identity_examples=8",
)
DEFAULT_OUT = os.path.join("runs", "benchmark_real_photos")
RESULT_FILE = "real_photos_benchmark.json"


# --- Configuration (pure) -------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument(
        "--quick", action="store_true", help="600 renders and 150 steps per design: checks that it runs"
    )
    parser.add_argument(
        "--num-train", type=int, default=None, help="training renders per design (default: the preset's)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="reuse the run folders under --out (TFX's cache) instead of starting them afresh",
    )
    args = parser.parse_args(argv)
    if args.num_train is not None and args.num_train < 1:
        parser.error(f"--num-train must be at least 1, got {args.num_train}")
    return args


def design_overrides(design: str, args: argparse.Namespace) -> tuple[str, ...]:
    """The `--set` overrides of one design on the quickstart preset (--quick and --num-train last)."""
    if design not in DESIGNS:
        raise ValueError(f"Unknown design {design!r}; known: {', '.join(DESIGNS)}.")
    overrides = (*(OLD_DESIGN if design == "old" else ()), *COMMON)
    if args.quick:
        overrides += QUICK
    if args.num_train is not None:
        overrides += (f"sampling.num_train={args.num_train}",)
    return overrides


def design_config(design: str, args: argparse.Namespace):
    """The HeadsynthConfig of one design."""
    from headsynth.config import apply_overrides, get_preset

    return apply_overrides(get_preset("quickstart"), list(design_overrides(design, args)))


# --- Figures (pure) -------------------------------------------------------------------------------


def design_figures(run: dict, real_photos: dict) -> dict:
    """One design's figures from its run summary and its real-photo result.

    Args:
        run: "net_error", "naive_error", "seconds" (the RunSummary's fields).
        real_photos: `evaluate_model_on_real_photos`' result: "summary" and per-face "faces".

    Returns:
        The table's figures; "faces" maps face name -> own, mean face similarity, rank, landmark error.
    """
    summary, faces = real_photos["summary"], real_photos["faces"]
    gaps = [
        face["own_similarity"] - face["mean_face_similarity"]
        for face in faces
        if _finite(face["own_similarity"]) and _finite(face["mean_face_similarity"])
    ]
    net, naive = run["net_error"], run["naive_error"]
    return {
        "net_error": net,
        "naive_error": naive,
        "net_over_naive": net / naive if naive else float("nan"),
        "faces_total": summary["faces"],
        "own_above_mean_face": summary["own_above_mean_face"],
        "rank1": summary["rank1"],
        "rank1_chance": summary["rank1_chance"],
        "verified": summary["verified"],
        "mean_face_verified": summary["mean_face_verified"],
        "landmark_error_mean": summary.get("landmark_error_mean", float("nan")),
        "own_minus_mean_face": sum(gaps) / len(gaps) if gaps else float("nan"),
        "own_minus_mean_face_min": min(gaps) if gaps else float("nan"),
        "own_minus_mean_face_max": max(gaps) if gaps else float("nan"),
        "pipeline_seconds": run.get("seconds", float("nan")),
        "faces": {
            face["name"]: {
                "own": face["own_similarity"],
                "mean_face": face["mean_face_similarity"],
                "rank": face["rank"],
                "landmark_error": face.get("landmark_error"),
            }
            for face in faces
        },
    }


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def _num(value, digits: int = 3, signed: bool = False) -> str:
    if not _finite(value):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


# Figures whose new/old ratio the summary prints (counts and signed gaps have none that means much).
RATIO_FIGURES = {
    "eval error, net (synthetic)": "net_error",
    "net / naive": "net_over_naive",
    "landmark error (IOD)": "landmark_error_mean",
    "pipeline time": "pipeline_seconds",
}


def ratio_cell(figures: dict[str, dict], name: str) -> str:
    """new / old of a row's figure, or "" (no ratio for this row, or not both designs)."""
    key = RATIO_FIGURES.get(name)
    if key is None or set(figures) != {"new", "old"}:
        return ""
    new, old = figures["new"][key], figures["old"][key]
    return _num(new / old) if _finite(new) and _finite(old) and old else "n/a"


def summary_rows(figures: dict[str, dict]) -> list[tuple[str, ...]]:
    """(row name, one cell per design, new / old) rows of the summary table."""

    def row(name: str, cell) -> tuple[str, ...]:
        return (name, *(cell(figures[d]) for d in figures), ratio_cell(figures, name))

    return [
        row("eval error, net (synthetic)", lambda f: _num(f["net_error"], 4)),
        row("eval error, naive (q = 0)", lambda f: _num(f["naive_error"], 4)),
        row("net / naive", lambda f: _num(f["net_over_naive"])),
        row("own photo above mean face", lambda f: f"{f['own_above_mean_face']}/{f['faces_total']}"),
        row(
            "rank-1 (chance)",
            lambda f: f"{f['rank1']}/{f['faces_total']} ({_num(f['rank1_chance'], 2)})",
        ),
        row("verified, L2 < 0.6", lambda f: f"{f['verified']}/{f['faces_total']}"),
        row("mean face verified", lambda f: f"{f['mean_face_verified']}/{f['faces_total']}"),
        row("landmark error (IOD)", lambda f: _num(f["landmark_error_mean"])),
        row(
            "own - mean face cosine [range]",
            lambda f: f"{_num(f['own_minus_mean_face'], signed=True)} "
            f"[{_num(f['own_minus_mean_face_min'], signed=True)}, "
            f"{_num(f['own_minus_mean_face_max'], signed=True)}]",
        ),
        row("pipeline time", lambda f: f"{f['pipeline_seconds']:.0f} s"),
    ]


def photo_rows(figures: dict[str, dict]) -> list[tuple[str, ...]]:
    """(face, per design: own similarity and rank, then the mean face's similarity) rows.

    The mean face is one column when every design's mean face scores alike (the
    same face model and renderer), else one column per design.
    """
    designs = list(figures)
    names = list(dict.fromkeys(n for d in designs for n in figures[d]["faces"]))
    missing = {"own": float("nan"), "mean_face": float("nan"), "rank": None}
    one_mean = all(
        _same(
            figures[d]["faces"].get(n, missing)["mean_face"],
            figures[designs[0]]["faces"].get(n, missing)["mean_face"],
        )
        for d in designs
        for n in names
    )
    rows = [
        (
            "face",
            *(f"{d} own (rank)" for d in designs),
            *(["mean face"] if one_mean else [f"{d} mean face" for d in designs]),
        )
    ]
    for name in names:
        faces = [figures[d]["faces"].get(name, missing) for d in designs]
        owns = [f"{_num(f['own'])} ({_rank(f['rank'])})" for f in faces]
        means = [_num(faces[0]["mean_face"])] if one_mean else [_num(f["mean_face"]) for f in faces]
        rows.append((name, *owns, *means))
    return rows


def _same(a, b) -> bool:
    return (not _finite(a) and not _finite(b)) or (_finite(a) and _finite(b) and abs(a - b) < 1e-6)


def _rank(rank) -> str:
    return str(int(rank)) if _finite(rank) else "n/a"


def format_table(rows: list[tuple[str, ...]], header: tuple[str, ...] | None = None) -> str:
    """Rows as a Markdown table (left-aligned first column; the header is the first row unless given)."""
    header, body = (header, rows) if header else (rows[0], rows[1:])
    widths = [max(len(str(r[i])) for r in (header, *body)) for i in range(len(header))]

    def line(cells) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in body)])


def report_text(figures: dict[str, dict]) -> str:
    """The two tables: the summary per design, then every face's own similarity beside the mean face's."""
    designs = list(figures)
    summary = format_table(summary_rows(figures), header=("", *designs, "new / old"))
    return (
        f"{summary}\n\nPer face, dlib cosine similarity to the photo face (rank of the own photo):\n\n"
        + format_table(photo_rows(figures))
    )


# --- Runs -----------------------------------------------------------------------------------------


def train(design: str, args: argparse.Namespace) -> dict:
    """Runs the whole pipeline for one design under `<out>/<design>`; returns its summary's fields."""
    from headsynth.pipeline.local_runner import run_local

    run_dir = os.path.join(args.out, design)
    if not args.keep and os.path.exists(run_dir):
        shutil.rmtree(run_dir)
    config = design_config(design, args)
    summary = run_local(config, run_dir)
    print(f"\n{TITLES[design]}: trained in {summary.seconds:.0f} s\n{summary.table()}\n", flush=True)
    return {
        "run_dir": run_dir,
        "scale": config.sampling.scale,
        "net_error": summary.net_error,
        "naive_error": summary.naive_error,
        "seconds": summary.seconds,
        "blessed": summary.blessed,
        "examples": summary.examples,
        "train_steps": summary.train_steps,
        "report": summary.paths.get("report", ""),
    }


def score_real_photos(run: dict) -> dict:
    """The real-photo evaluation of a run's trained SavedModel (the Evaluate step's library call)."""
    from headsynth.components.evaluation.real_photos import evaluate_model_on_real_photos
    from headsynth.components.prediction.predict import resolve_saved_model
    from headsynth.core.logs import filtered_stderr

    saved_model_dir, _ = resolve_saved_model(run["run_dir"])
    with filtered_stderr():  # mediapipe's delegate lines at its first inferences
        return evaluate_model_on_real_photos(saved_model_dir, "packaged", run["run_dir"], run["scale"])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from headsynth.core.logs import quiet_start

    quiet_start()  # before TensorFlow is imported: Google's clients' start-up warnings
    from headsynth.components.identity.embedding import check_backend
    from headsynth.components.rendering.rasterizer import require_rasterizer
    from headsynth.core.io_utils import write_text_atomic
    from headsynth.core.logs import quiet_logging
    from headsynth.report.values import json_ready

    require_rasterizer()
    check_backend("dlib")
    quiet_logging()
    os.makedirs(args.out, exist_ok=True)
    runs = {design: train(design, args) for design in DESIGNS}
    scored = {design: score_real_photos(runs[design]) for design in DESIGNS}
    figures = {design: design_figures(runs[design], scored[design]) for design in DESIGNS}
    text = report_text(figures)
    print("\n" + "\n".join(f"{d}  = {TITLES[d]}" for d in DESIGNS) + "\n")
    print(text)
    for design in DESIGNS:
        for note in scored[design]["notes"]:
            print(f"note ({design}): {note}")
    result = {
        "overrides": {d: list(design_overrides(d, args)) for d in DESIGNS},
        "figures": figures,
        "runs": {
            d: {
                "run_dir": runs[d]["run_dir"],
                "run_report": runs[d]["report"],
                "real_photos_report": scored[d]["report"],
                "real_photos_json": scored[d]["json"],
                "examples": runs[d]["examples"],
                "train_steps": runs[d]["train_steps"],
                "pushed": runs[d]["blessed"],
            }
            for d in DESIGNS
        },
        "table": text,
        "seconds": time.perf_counter() - started,
        "load_average_end": os.getloadavg()[0],
    }
    path = os.path.join(args.out, RESULT_FILE)
    write_text_atomic(path, json.dumps(json_ready(result), indent=2))
    for design in DESIGNS:
        print(f"reports ({design}): {runs[design]['report']}  {scored[design]['report']}")
    print(
        f"figures: {path}; total {time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
