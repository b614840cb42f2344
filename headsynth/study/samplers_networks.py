"""The samplers study's networks: `study_seeds` per sampler with the same settings, all evaluated on one test set."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from headsynth import wiring
from headsynth.components.diversity.tables import measure_sets
from headsynth.components.evaluation.evaluate import (
    ExampleSet,
    load_example_set,
    predict_examples,
    squared_errors,
)
from headsynth.components.generative.sources import RealisticVectors
from headsynth.components.rendering.painter import HeadPainter
from headsynth.components.sampling.specs import SamplerSpec
from headsynth.components.training.settings import TrainSettings
from headsynth.config import HeadsynthConfig
from headsynth.core.io_utils import save_npz
from headsynth.core.progress import report
from headsynth.morphable.model import MorphableModel
from headsynth.report.figures import plot_error_violins
from headsynth.study.bootstrap import Bootstrap, mean_with_ci
from headsynth.study.common import train_study_networks
from headsynth.study.samplers import StudyPlan, StudySampler
from headsynth.study.samplers_data import entry_options
from headsynth.study.samplers_findings import compute_sampler_findings
from headsynth.study.samplers_identity import identity_evaluation_seeds, seed_ranks
from headsynth.study.samplers_photos import score_networks_on_photos

ERROR_VIOLINS = (
    "Squared euclidean error on q (sigma units) of each sampler's networks (all seeds pooled) on the shared "
    "test set, and of the naive predictor (q = 0); horizontal lines: median and quartiles."
)
# What a trained network's folder holds once it is finished.
NETWORK_FILES = ["serving/saved_model.pb", "logs/training_result.json"]


def network_name(name: str, seed_index: int) -> str:
    """The name (and folder under nets/) of `name`'s network trained with seed `seed_index`."""
    return f"{name}/seed{seed_index}"


def sampler_train_settings(config: HeadsynthConfig, plan: StudyPlan, seed_index: int = 0) -> TrainSettings:
    """The settings every network of one seed is trained with: the configured ones at the study's steps
    and backbone, with seed `training.seed + seed_index`.

    Scale 1: the examples were rendered from q in sigma units (`samplers_data.sampler_render_job`).
    The head's output scale is each sampler's own (`entry_train_settings`).
    """
    changes = {}
    if plan.backbone != config.training.backbone:  # the main job's stem settings belong to its stem
        changes = {"stem_mode": "trained", "cache_stem_features": False, "stem_weights": ""}
    settings = wiring.train_settings(
        config,
        train_steps=plan.train_steps,
        backbone=plan.backbone,
        seed=config.training.seed + seed_index,
        **changes,
    )
    return dataclasses.replace(settings, scale=1.0, image_size=wiring.samplers_image_size(config))


def entry_train_settings(
    config: HeadsynthConfig, plan: StudyPlan, entry: StudySampler, out_dir: str, seed_index: int = 0
) -> TrainSettings:
    """`sampler_train_settings` with one sampler's output scale for the "mlp" head: the range its q lie
    in (`wiring.output_scale`), in the study's sigma units (times the entry's scale); the fitted and
    generative samplers' from the realistic vectors the study fitted them to."""
    settings = sampler_train_settings(config, plan, seed_index)
    training = settings.training
    if training.output_scale or training.head != "mlp":
        return settings  # a set output scale, or the linear head's 1
    spec = SamplerSpec(entry.sampler, tuple(entry.options.items()), entry.label)
    bound = wiring.output_scale(training, spec, entry_options(entry, out_dir))
    return dataclasses.replace(settings, output_scale=bound * entry.scale)


def train_networks(
    config: HeadsynthConfig,
    plan: StudyPlan,
    model: MorphableModel,
    out_dir: str,
    data_dirs: dict,
    test_dir: str,
) -> tuple[dict, dict]:
    """`plan.seeds` networks per sampler, same settings; validation on the test set (no model selection uses it).

    Returns:
        (network name -> training result, network name -> seconds); names from `network_name`.
    """
    test_set = os.path.join(test_dir, "Split-eval", "*")
    results, seconds = {}, {}
    for seed_index in range(plan.seeds):
        for name, data_dir in data_dirs.items():
            result, took = train_study_networks(
                entry_train_settings(config, plan, plan.entries[name], out_dir, seed_index),
                model,
                out_dir,
                {network_name(name, seed_index): (data_dir, test_set)},
                required=NETWORK_FILES,
            )
            results.update(result)
            seconds.update(took)
    return results, seconds


def evaluate_networks(
    config: HeadsynthConfig, plan: StudyPlan, model: MorphableModel, out_dir: str, test_dir: str
) -> dict:
    """Parameter error and identity scores of every network's seeds on the test set, and the findings.

    Returns:
        "errors": name -> error row (mean [95% CI] over images and seeds, rank, mean |q|),
        "identity" (None when switched off), "findings", counts and figures.
    """
    eval_dir = os.path.join(out_dir, "evaluation")
    os.makedirs(eval_dir, exist_ok=True)
    test = load_example_set(test_dir, "eval")
    predictions = predict_test_set(out_dir, list(plan.entries), plan.seeds, test)
    errors = {
        name: np.stack([squared_errors(test.q, q) for q in per_seed])
        for name, per_seed in predictions.items()
    }
    table, ranked = error_table(errors, predictions, Bootstrap.of(len(test.q), plan.bootstrap))
    save_npz(
        os.path.join(eval_dir, "errors.npz"),
        q_true=test.q,
        **{f"errors__{n}": e for n, e in errors.items()},
        **{f"predicted__{n}": q for n, q in predictions.items()},
    )
    plot_error_violins(
        {f"realistic test identities, {plan.scenario}": {n: e.ravel() for n, e in errors.items()}},
        os.path.join(eval_dir, "error_violins.png"),
    )
    figures = {"error_violins.png": ERROR_VIOLINS}
    identity, identity_arrays = evaluate_identity(config, plan, model, eval_dir, test, predictions)
    if identity:
        figures.update(identity.pop("figures"))
    findings = compute_sampler_findings(
        plan.entries, errors, identity_arrays, plan.bootstrap, config.training.seed
    )
    photos = None
    if config.generative.study_real_photos:
        photos = score_networks_on_photos(
            {name: serving_dirs(out_dir, name, plan.seeds) for name in plan.entries}, eval_dir, plan.bootstrap
        )
    return {
        "errors": table,
        "ranked_examples": int(ranked),
        "test_examples": int(len(test.q)),
        "seeds": plan.seeds,
        "identity": identity,
        "real_photos": photos,
        "findings": findings,
        "figures": figures,
    }


def serving_dirs(out_dir: str, name: str, seeds: int) -> list[str]:
    """The SavedModel folders of `name`'s seeds."""
    return [os.path.join(out_dir, "nets", network_name(name, k), "serving") for k in range(seeds)]


def predict_test_set(out_dir: str, names: list[str], seeds: int, test: ExampleSet) -> dict[str, np.ndarray]:
    """Network name -> `[S, N, m]` predicted q of its S seeds on the test set, and "naive" -> `[1, N, m]` zeros."""
    predictions = {}
    for name in names:
        predictions[name] = np.stack(
            [
                predict_examples("", test.records, loaded=tf.saved_model.load(folder))
                for folder in serving_dirs(out_dir, name, seeds)
            ]
        )
    predictions["naive"] = np.zeros_like(test.q)[None]
    return predictions


def error_table(
    errors: dict[str, np.ndarray], predictions: dict[str, np.ndarray], bootstrap: Bootstrap
) -> tuple[dict, int]:
    """(name -> error mean [95% CI over images and seeds] with mean rank and mean |q| of the predictions,
    examples ranked).

    Per seed k and test example, every sampler's seed-k network and the naive predictor are ranked by
    error (1 = best); the ranks are averaged over examples, then over seeds.

    Args:
        errors: name -> `[S, N]` squared errors (naive: `[1, N]`).
        predictions: name -> `[S, N, m]` predicted q.
        bootstrap: the resampling of the N test images.
    """
    ranks, ranked = seed_ranks({name: -e for name, e in errors.items()})
    table = {
        name: {
            **mean_with_ci(errors[name], bootstrap),
            "rank": float(ranks[i]),
            "prediction_mean_abs": float(np.mean(np.abs(predictions[name]))),
        }
        for i, name in enumerate(errors)
    }
    return table, ranked


def evaluate_identity(
    config: HeadsynthConfig,
    plan: StudyPlan,
    model: MorphableModel,
    eval_dir: str,
    test: ExampleSet,
    predictions: dict[str, np.ndarray],
) -> tuple[dict | None, dict[str, np.ndarray]]:
    """(identity.json's content, name -> `[S, n]` corrected scores) of every network's seeds and naive on the
    test set; (None, {}) when switched off."""
    options = dataclasses.replace(
        config.evaluation, identity_reference=config.generative.study_identity_reference
    )
    if options.identity_backend == "none" or options.identity_examples <= 0:
        return None, {}
    report(
        "study",
        f"identity scores ({options.identity_backend}) of {plan.seeds} seed(s) on "
        f"{options.identity_examples} test examples",
    )
    painter = HeadPainter(model, 1.0)  # q in sigma units
    identity = identity_evaluation_seeds(test, predictions, painter, options, eval_dir, plan.bootstrap)
    return identity, identity.pop("corrected")


def measure_diversity(
    config: HeadsynthConfig,
    plan: StudyPlan,
    out_dir: str,
    fit: RealisticVectors,
    test: RealisticVectors,
    sets: dict[str, dict],
) -> dict:
    """Tables 6.3-6.5 and Figs. 6.6-6.10 for the realistic vectors and every training set."""
    named = {"realistic (fitted)": fit.q, "realistic (test)": test.q}
    named.update({plan.entries[name].label: data["q"] for name, data in sets.items()})
    labels = {"realistic (fitted)": fit.labels, "realistic (test)": test.labels}
    labels.update({plan.entries[name].label: data["labels"] for name, data in sets.items() if data["labels"]})
    return measure_sets(
        named,
        fit.q,
        os.path.join(out_dir, "diversity"),
        labels=labels,
        reference_name="realistic (fitted)",
        seed=config.generative.seed,
    )
