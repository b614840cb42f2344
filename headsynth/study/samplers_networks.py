"""The samplers study's networks: one per sampler with the same settings, all evaluated on one test set."""

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
    summarize_errors,
)
from headsynth.components.evaluation.identity_eval import identity_evaluation
from headsynth.components.generative.sources import RealisticVectors
from headsynth.components.identity.scores import mean_ranks
from headsynth.components.rendering.painter import HeadPainter
from headsynth.components.sampling.specs import SamplerSpec
from headsynth.components.training.settings import TrainSettings
from headsynth.config import HeadsynthConfig
from headsynth.core.progress import report
from headsynth.morphable.model import MorphableModel
from headsynth.report.figures import plot_error_violins
from headsynth.study.common import train_study_networks
from headsynth.study.samplers import StudyPlan, StudySampler
from headsynth.study.samplers_data import entry_options

ERROR_VIOLINS = (
    "Squared euclidean error on q (sigma units) of each network on the shared test set, and of the naive "
    "predictor (q = 0); horizontal lines: median and quartiles."
)


def sampler_train_settings(config: HeadsynthConfig, plan: StudyPlan) -> TrainSettings:
    """The settings every network is trained with: the configured ones at the study's steps and backbone.

    Scale 1: the examples were rendered from q in sigma units (`samplers_data.sampler_render_job`).
    The head's output scale is each sampler's own (`entry_train_settings`).
    """
    changes = {}
    if plan.backbone != config.training.backbone:  # the main job's stem settings belong to its stem
        changes = {"stem_mode": "trained", "cache_stem_features": False, "stem_weights": ""}
    settings = wiring.train_settings(config, train_steps=plan.train_steps, backbone=plan.backbone, **changes)
    return dataclasses.replace(settings, scale=1.0, image_size=wiring.samplers_image_size(config))


def entry_train_settings(
    config: HeadsynthConfig, plan: StudyPlan, entry: StudySampler, out_dir: str
) -> TrainSettings:
    """`sampler_train_settings` with one sampler's output scale for the "mlp" head: the range its q lie
    in (`wiring.output_scale`), in the study's sigma units (times the entry's scale); the fitted and
    generative samplers' from the realistic vectors the study fitted them to."""
    settings = sampler_train_settings(config, plan)
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
    """One network per sampler, same settings; validation on the test set (no model selection uses it).

    Returns:
        (name -> training result, name -> seconds).
    """
    test_set = os.path.join(test_dir, "Split-eval", "*")
    results, seconds = {}, {}
    for name, data_dir in data_dirs.items():
        result, took = train_study_networks(
            entry_train_settings(config, plan, plan.entries[name], out_dir),
            model,
            out_dir,
            {name: (data_dir, test_set)},
            required=["serving/saved_model.pb", "logs/training_result.json"],
        )
        results.update(result)
        seconds.update(took)
    return results, seconds


def evaluate_networks(
    config: HeadsynthConfig, plan: StudyPlan, model: MorphableModel, out_dir: str, test_dir: str
) -> dict:
    """Parameter error (with ranks and CIs) and identity score of every network on the test set."""
    eval_dir = os.path.join(out_dir, "evaluation")
    os.makedirs(eval_dir, exist_ok=True)
    test = load_example_set(test_dir, "eval")
    predictions = predict_test_set(out_dir, list(plan.entries), test)
    errors = {name: squared_errors(test.q, q) for name, q in predictions.items()}
    table, ranked = error_table(errors, predictions)
    np.savez(
        os.path.join(eval_dir, "errors.npz"),
        q_true=test.q,
        **{f"errors__{n}": e for n, e in errors.items()},
        **{f"predicted__{n}": q for n, q in predictions.items()},
    )
    plot_error_violins(
        {f"realistic test identities, {plan.scenario}": errors}, os.path.join(eval_dir, "error_violins.png")
    )
    figures = {"error_violins.png": ERROR_VIOLINS}
    identity = evaluate_identity(config, model, eval_dir, test, predictions)
    if identity:
        figures.update(identity.pop("figures"))
    return {
        "errors": table,
        "ranked_examples": int(ranked),
        "test_examples": int(len(test.q)),
        "identity": identity,
        "figures": figures,
    }


def predict_test_set(out_dir: str, names: list[str], test: ExampleSet) -> dict[str, np.ndarray]:
    """Network name -> `[N, m]` predicted q on the test set, and "naive" -> zeros."""
    predictions = {}
    for name in names:
        loaded = tf.saved_model.load(os.path.join(out_dir, "nets", name, "serving"))
        predictions[name] = predict_examples("", test.records, loaded=loaded)
    predictions["naive"] = np.zeros_like(test.q)
    return predictions


def error_table(errors: dict[str, np.ndarray], predictions: dict[str, np.ndarray]) -> tuple[dict, int]:
    """(name -> error summary with mean rank and mean |q| of the predictions, examples ranked).

    Per test example the predictors are ranked by error (1 = best), the ranks averaged over examples.
    """
    names = list(errors)
    ranks, ranked = mean_ranks(-np.stack([errors[n] for n in names], axis=1))
    table = {
        name: {
            **dataclasses.asdict(summarize_errors(errors[name])),
            "rank": float(ranks[i]),
            "prediction_mean_abs": float(np.mean(np.abs(predictions[name]))),
        }
        for i, name in enumerate(names)
    }
    return table, ranked


def evaluate_identity(
    config: HeadsynthConfig,
    model: MorphableModel,
    eval_dir: str,
    test: ExampleSet,
    predictions: dict[str, np.ndarray],
) -> dict | None:
    """Identity scores of every network (and naive) on the test set; None when switched off."""
    options = config.evaluation
    if options.identity_backend == "none" or options.identity_examples <= 0:
        return None
    report(
        "study", f"identity scores ({options.identity_backend}) on {options.identity_examples} test examples"
    )
    painter = HeadPainter(model, 1.0)  # q in sigma units
    return identity_evaluation(test, predictions, painter, options, eval_dir)


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
