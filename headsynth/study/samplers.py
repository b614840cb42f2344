"""The samplers study (the thesis's Table 6.6): one regressor per parameter sampler, one shared test set.

    headsynth study samplers --preset quickstart [--out DIR] [--set section.key=value ...]

Every sampler of `generative.study_samplers` (by default: paper uniform,
naive uniform 4, naive normal 1.5, composite, meta normal, GMM at the sizes
of `generative.study_gmm_components`, CVGAN2) draws the same number of
training vectors; each set is rendered in the same scenario
(`rendering.scenario`) and trains one network with the same settings. All
networks are evaluated on the same held-out test set: renders of realistic
identities that no generative model was fitted to. The study reports the
parameter error and the identity score of every network with ranks and 95%
confidence intervals, and the diversity of every training set (the thesis's
Tables 6.3-6.5, Figs. 6.6-6.10).

Units. Every vector in the study is q in units of sigma (p = sigma * q), the
units of the realistic vectors (the built-in population's standardized PCA
coefficients): the study renders everything at scale 1, and a sampler
defined at another scale is converted, q_sigma = scale * q. So the paper's
sampler, q ~ U[-1, 1] at scale 1.6, enters as U[-1.6, 1.6]; the thesis's
samplers are defined at scale 1 and enter unchanged. Errors, distances and
"mean |q|" are therefore comparable across samplers.

Layout of the study folder:

    config.json                      the resolved configuration
    realistic/fit.npz, test.npz      the realistic vectors (sigma units, age/sex), split into the
                                     part the generative models are fitted to and the held-out test part
    generative/                      the fitted GMMs and GANs (a FitGenerativeModel folder: AIC/BIC, figures)
    samples/<sampler>.npz            each sampler's training vectors (sigma units)
    data/test/                       the test set: Split-eval, each test identity rendered
                                     `study_renders_per_identity` times
    data/<sampler>/                  its training renders (Split-train)
    nets/<sampler>/serving, logs     the trained network
    evaluation/                      errors.npz, error_violins.png, identity.json and figures
    diversity/                       diversity.json and figures
    study.json                       every number, timings, paths
    report.html                      everything in one page

Each stage writes a stamp of what it ran with; a rerun reuses finished stages.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field

import numpy as np

from headsynth.errors import ConfigError, ParameterError
from headsynth.study.common import stamp_matches, train_study_networks, write_stamp


@dataclass(frozen=True)
class StudySampler:
    """One entry of the study.

    Attributes:
        label: the name in tables ("naive uniform 4").
        sampler: the registered sampler it calls (`sampling/samplers.py`).
        options: the sampler's options.
        scale: the scale the sampler's q is defined at; the study uses scale * q.
    """

    label: str
    sampler: str
    options: dict = field(default_factory=dict)
    scale: float = 1.0


# Study sampler names -> what they draw. "gmm" expands to one entry per size; fitted_* and the GANs
# read the realistic vectors / fitted models of the study, added when the study runs.
STUDY_SAMPLERS: dict[str, StudySampler] = {
    "paper_uniform": StudySampler("paper uniform (U[-1,1] x 1.6)", "paper_uniform", {}, 1.6),
    "naive_uniform": StudySampler("naive uniform 4", "naive_uniform", {"limit": 4.0}),
    "naive_normal": StudySampler("naive normal 1.5", "naive_normal", {"std": 1.5}),
    "composite": StudySampler("composite 80% N(0,1) + 20% U(-6,6)", "composite", {}),
    "meta_normal": StudySampler("meta normal sigma in [0.5, 2]", "meta_normal", {}),
    "normal_beta_uniform": StudySampler("normal x beta x uniform", "normal_beta_uniform", {}),
    "fitted_uniform": StudySampler("uniform, fitted mean/std", "fitted_uniform", {}),
    "fitted_normal": StudySampler("normal, fitted mean/std", "fitted_normal", {}),
    "gmm": StudySampler("GMM", "gmm", {}),
    "cvgan1": StudySampler("CVGAN1 [2000, 1000, 500] dropout", "cgan", {"variant": "cvgan1"}),
    "cvgan2": StudySampler("CVGAN2 [500, 500] noise", "cgan", {"variant": "cvgan2"}),
}


# --- Stamps ---------------------------------------------------------------------------------------


# --- Plan -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyPlan:
    """The sizes and entries of one study, resolved from the configuration."""

    entries: dict[str, StudySampler]  # study name (folder-safe) -> sampler
    num_train: int
    train_steps: int
    backbone: str
    gmm_components: tuple[int, ...]
    cgan_variants: tuple[str, ...]
    test_identities: int
    renders_per_identity: int
    scenario: str


def plan_study(config) -> StudyPlan:
    """Expands `generative.study_samplers` into named entries and resolves the sizes.

    Raises:
        ConfigError: for an unknown study sampler.
    """
    generative = config.generative
    entries: dict[str, StudySampler] = {}
    for name in generative.study_samplers:
        if name not in STUDY_SAMPLERS:
            raise ConfigError(
                f"Unknown study sampler {name!r}.", f"Choose from: {', '.join(STUDY_SAMPLERS)}."
            )
        entry = STUDY_SAMPLERS[name]
        if name == "gmm":
            for k in generative.study_gmm_components:
                entries[f"gmm_{k}"] = StudySampler(f"GMM {k}", "gmm", {"components": int(k)})
        else:
            entries[name] = entry
    gmm_components = tuple(sorted(set(generative.gmm_components) | set(generative.study_gmm_components)))
    cgan_variants = tuple(
        dict.fromkeys(
            [
                *generative.cgan_variants,
                *(e.options["variant"] for e in entries.values() if e.sampler == "cgan"),
            ]
        )
    )
    if not any(e.sampler == "cgan" for e in entries.values()):
        cgan_variants = ()
    return StudyPlan(
        entries=entries,
        num_train=generative.study_num_train or config.sampling.num_train,
        train_steps=generative.study_train_steps or config.training.train_steps,
        backbone=generative.study_backbone or config.training.backbone,
        gmm_components=gmm_components,
        cgan_variants=cgan_variants,
        test_identities=generative.study_test_identities,
        renders_per_identity=generative.study_renders_per_identity,
        scenario=config.rendering.scenario,
    )


# --- Stages ---------------------------------------------------------------------------------------


def prepare_realistic(config, plan: StudyPlan, out_dir: str):
    """Loads the face model and the realistic vectors; splits them into fit and held-out test parts.

    Returns:
        (face model, fit RealisticVectors, test RealisticVectors).

    Raises:
        ParameterError: if there are too few realistic vectors for the test set and the fits.
    """
    from headsynth.components.face_model.morphable_model import load_model
    from headsynth.components.generative.sources import realistic_vectors

    generative = config.generative
    model = load_model(
        config.face_model.source, config.face_model.shape_components, config.face_model.texture_components
    )
    realistic = realistic_vectors(
        generative.source,
        model,
        generative.source_scale,
        generative.photos_model,
        generative.photos,
        generative.photos_labels,
    )
    needed = plan.test_identities + max(2, max(plan.gmm_components))
    if len(realistic.q) < needed:
        raise ParameterError(
            f"{realistic.source} has {len(realistic.q)} vectors; the study needs {needed} "
            f"({plan.test_identities} held out for the test set, {needed - plan.test_identities} for the "
            f"largest mixture of {max(plan.gmm_components)} components).",
            "Lower generative.study_test_identities or the GMM sizes, or give more vectors.",
        )
    order = np.random.default_rng([generative.seed, 7]).permutation(len(realistic.q))
    test = realistic.subset(np.sort(order[: plan.test_identities]))
    fit = realistic.subset(np.sort(order[plan.test_identities :]))
    return model, fit, test


def fit_models(config, plan: StudyPlan, fit, out_dir: str) -> dict:
    """Fits the GMMs and GANs to the fit part (reused when unchanged); returns the index."""
    from headsynth.components.generative.store import GenerativeSettings, fit_generative_model
    from headsynth.progress import report

    generative = config.generative
    settings = GenerativeSettings(
        gmm_components=plan.gmm_components,
        gmm_covariance_types=generative.gmm_covariance_types,
        gmm_selection=generative.gmm_selection,
        gmm_reg_covar=generative.gmm_reg_covar,
        cgan_variants=plan.cgan_variants,
        cgan_steps=generative.cgan_steps,
        cgan_batch_size=generative.cgan_batch_size,
        cgan_learning_rate=generative.cgan_learning_rate,
        seed=generative.seed,
    )
    folder = os.path.join(out_dir, "generative")
    stamp = {
        "settings": dataclasses.asdict(settings),
        "source": fit.source,
        "fit_sha": _digest(fit.q),
    }
    if stamp_matches(folder, stamp, ["generative_model.json"]):
        report("study", "reusing the fitted generative models")
    else:
        report(
            "study",
            f"fitting GMMs ({', '.join(map(str, plan.gmm_components))} components) "
            + (f"and {', '.join(plan.cgan_variants)} " if plan.cgan_variants else "")
            + f"to {len(fit.q)} realistic vectors",
        )
        fit_generative_model(fit, folder, settings)
        write_stamp(folder, stamp)
    with open(os.path.join(folder, "generative_model.json")) as f:
        return json.load(f)


def _digest(array: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(array, np.float32).tobytes()).hexdigest()[:16]


def sample_training_sets(config, plan: StudyPlan, width: int, out_dir: str) -> dict[str, dict]:
    """Draws every sampler's training vectors in sigma units; returns name -> {"q", "labels"}."""
    from headsynth.components.generative.store import FittedGenerativeModel
    from headsynth.components.sampling.samplers import sample_parameters

    generative_dir = os.path.join(out_dir, "generative")
    sets = {}
    os.makedirs(os.path.join(out_dir, "samples"), exist_ok=True)
    for i, (name, entry) in enumerate(plan.entries.items()):
        seed = [config.sampling.seed, 100 + i]
        options = dict(entry.options)
        labels = {}
        if entry.sampler in ("fitted_uniform", "fitted_normal"):
            options["parameter_file"] = os.path.join(out_dir, "realistic", "fit.npz")
        if entry.sampler == "gmm":
            options["model_dir"] = generative_dir
        if entry.sampler == "cgan":
            # Sampled here (not through sample_parameters) to keep the labels for the PCA figures.
            fitted = FittedGenerativeModel.load(generative_dir)
            q, ages, sexes = fitted.sample_cgan(
                np.random.default_rng(seed),
                plan.num_train,
                options["variant"],
                config.generative.gan_ages,
                config.generative.gan_sexes,
            )
            labels = {"age": ages, "sex": sexes}
        else:
            q = sample_parameters(entry.sampler, plan.num_train, width, seed, options)
        q = (np.asarray(q, np.float64) * entry.scale).astype(np.float32)
        np.savez(os.path.join(out_dir, "samples", f"{name}.npz"), q=q, **labels)
        sets[name] = {"q": q, "labels": labels}
    return sets


def render_sets(
    config, plan: StudyPlan, model_path: str, out_dir: str, test, sets
) -> tuple[dict, str, float]:
    """Renders the test set and every training set (each reused when unchanged).

    Returns:
        (name -> training examples folder, the test examples folder, seconds).
    """
    from headsynth.components.rendering.render_job import RenderJob, run_render_job
    from headsynth.components.sampling.parameter_store import save_split_parameters
    from headsynth.progress import report

    started = time.monotonic()
    rendering = dataclasses.asdict(config.rendering)
    rendering.pop("beam_args", None)

    def render(folder: str, split: str, q: np.ndarray, what: str) -> None:
        stamp = {
            "rendering": rendering,
            "split": split,
            "q": _digest(q),
            "count": len(q),
            "seed": config.sampling.seed,
        }
        if stamp_matches(folder, stamp, ["render.json"]):
            report("study", f"reusing the rendered {what}")
            return
        os.makedirs(folder, exist_ok=True)
        parameters_path = os.path.join(folder, "parameters.npz")
        save_split_parameters(parameters_path, {split: q})
        report("study", f"rendering {len(q)} {what} ({plan.scenario}, {config.rendering.image_size}px)")
        job = RenderJob(
            model_path,
            parameters_path,
            folder,
            scenario=plan.scenario,
            eval_scenario=plan.scenario,
            image_size=config.rendering.image_size,
            batch_size=config.rendering.batch_size,
            num_shards=config.rendering.num_shards,
            seed=config.sampling.seed,
            scale=1.0,
            image_format=config.rendering.image_format,
            antialias=config.rendering.antialias,
            backgrounds=config.rendering.backgrounds,
        )
        run_render_job(job, beam_args=list(config.rendering.beam_args))
        write_stamp(folder, stamp)

    test_dir = os.path.join(out_dir, "data", "test")
    render(test_dir, "eval", np.repeat(test.q, plan.renders_per_identity, axis=0), "test examples")
    data_dirs = {}
    for name, data in sets.items():
        data_dirs[name] = os.path.join(out_dir, "data", name)
        render(data_dirs[name], "train", data["q"], f"training examples of {name}")
    return data_dirs, test_dir, time.monotonic() - started


def train_networks(
    config, plan: StudyPlan, model, out_dir: str, data_dirs: dict, test_dir: str
) -> tuple[dict, dict]:
    """One network per sampler, same settings; validation on the test set (no model selection uses it).

    Returns:
        (name -> training result, name -> seconds).
    """
    from headsynth.components.training.trainer import TrainSettings

    settings = TrainSettings.from_dict(
        {
            **dataclasses.asdict(config.training),
            "image_size": config.rendering.image_size,
            "scale": 1.0,
            "train_steps": plan.train_steps,
            "backbone": plan.backbone,
        }
    )
    test_set = os.path.join(test_dir, "Split-eval", "*")
    return train_study_networks(
        settings,
        model,
        out_dir,
        {name: (data_dir, test_set) for name, data_dir in data_dirs.items()},
        required=["serving/saved_model.pb", "logs/training_result.json"],
    )


def evaluate_networks(config, plan: StudyPlan, model, out_dir: str, test_dir: str) -> dict:
    """Parameter error (with ranks and CIs) and identity score of every network on the test set."""
    import tensorflow as tf

    from headsynth.components.evaluation.evaluate import (
        load_example_set,
        predict_examples,
        squared_errors,
        summarize_errors,
    )
    from headsynth.components.evaluation.figures import plot_error_violins
    from headsynth.components.evaluation.saliency import HeadPainter
    from headsynth.components.identity.scores import mean_ranks
    from headsynth.progress import report

    eval_dir = os.path.join(out_dir, "evaluation")
    os.makedirs(eval_dir, exist_ok=True)
    test = load_example_set(test_dir, "eval")
    predictions = {}
    for name in plan.entries:
        loaded = tf.saved_model.load(os.path.join(out_dir, "nets", name, "serving"))
        predictions[name] = predict_examples("", test.records, loaded=loaded)
    predictions["naive"] = np.zeros_like(test.q)
    errors = {name: squared_errors(test.q, q) for name, q in predictions.items()}
    names = list(errors)
    ranks, ranked = mean_ranks(-np.stack([errors[n] for n in names], axis=1))
    error_table = {
        name: {
            **dataclasses.asdict(summarize_errors(errors[name])),
            "rank": float(ranks[i]),
            "prediction_mean_abs": float(np.mean(np.abs(predictions[name]))),
        }
        for i, name in enumerate(names)
    }
    np.savez(
        os.path.join(eval_dir, "errors.npz"),
        q_true=test.q,
        **{f"errors__{n}": e for n, e in errors.items()},
        **{f"predicted__{n}": q for n, q in predictions.items()},
    )
    figures = {}
    plot_error_violins(
        {f"realistic test identities, {plan.scenario}": errors}, os.path.join(eval_dir, "error_violins.png")
    )
    figures["error_violins.png"] = (
        "Squared euclidean error on q (sigma units) of each network on the shared test set, and of the naive "
        "predictor (q = 0); horizontal lines: median and quartiles."
    )
    identity = None
    options = config.evaluation
    if options.identity_backend != "none" and options.identity_examples > 0:
        from headsynth.components.evaluation.identity_eval import identity_evaluation

        report(
            "study",
            f"identity scores ({options.identity_backend}) on {options.identity_examples} test examples",
        )
        painter = HeadPainter(model, 1.0)
        identity = identity_evaluation(test, predictions, painter, options, eval_dir)
        figures.update(identity.pop("figures"))
    return {
        "errors": error_table,
        "ranked_examples": int(ranked),
        "test_examples": int(len(test.q)),
        "identity": identity,
        "figures": figures,
    }


def measure_diversity(config, plan: StudyPlan, out_dir: str, fit, test, sets) -> dict:
    """Tables 6.3-6.5 and Figs. 6.6-6.10 for the realistic vectors and every training set."""
    from headsynth.components.diversity.tables import measure_sets

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


# --- The whole study ------------------------------------------------------------------------------


@dataclass
class SamplerStudyResult:
    """What the study produced (the same as study.json, plus the live diversity summaries)."""

    out_dir: str
    plan: StudyPlan
    evaluation: dict
    diversity: dict
    generative: dict
    training: dict
    seconds: dict[str, float]
    report: str = ""

    def table(self) -> str:
        """Table 6.6 as text: error and identity score with 95% CIs and ranks."""
        from headsynth.components.diversity.tables import format_table

        return format_table(*result_rows(self))


def result_rows(result: SamplerStudyResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the Table 6.6-like table."""
    from headsynth.report.html import format_ci

    identity = {row["network"]: row for row in (result.evaluation["identity"] or {}).get("table", [])}
    header = ["sampler", "error on q [95% CI]", "error rank"]
    if identity:
        header += ["identity [95% CI]", "rank", "corrected [95% CI]", "corr. rank"]
    header += ["mean |q| pred.", "mean |q| train"]
    rows = []
    for name in [*result.plan.entries, "naive"]:
        error = result.evaluation["errors"][name]
        label = result.plan.entries[name].label if name in result.plan.entries else "naive (q = 0)"
        row = [label, format_ci(error, 2), f"{error['rank']:.2f}"]
        if identity:
            scores = identity[name]
            row += [
                format_ci(scores["score"]),
                f"{scores['rank']:.2f}",
                format_ci(scores["corrected_score"]),
                f"{scores['corrected_rank']:.2f}",
            ]
        train_abs = result.diversity["summaries"][label].mean_abs if name in result.plan.entries else 0.0
        row += [f"{error['prediction_mean_abs']:.2f}", f"{train_abs:.2f}"]
        rows.append(row)
    return header, rows


def run_sampler_study(config, out_dir: str) -> SamplerStudyResult:
    """Runs (or resumes) the whole study; writes study.json, the figures and report.html.

    Raises:
        ConfigError, ParameterError: for unusable settings or realistic vectors, before rendering.
        IdentityBackendUnavailable: before any work, if the identity backend cannot run.
    """
    from headsynth.components.identity.embedding import check_backend
    from headsynth.components.rendering.rasterizer import require_rasterizer
    from headsynth.components.sampling.parameter_files import save_parameter_file
    from headsynth.io_utils import write_text_atomic

    if config.evaluation.identity_backend != "none":
        check_backend(config.evaluation.identity_backend)
    require_rasterizer()
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    write_text_atomic(os.path.join(out_dir, "config.json"), config.to_json())
    started = time.monotonic()
    seconds: dict[str, float] = {}
    plan = plan_study(config)
    model, fit, test = prepare_realistic(config, plan, out_dir)
    save_parameter_file(os.path.join(out_dir, "realistic", "fit.npz"), fit.q, **fit.labels)
    save_parameter_file(os.path.join(out_dir, "realistic", "test.npz"), test.q, **test.labels)
    model_path = os.path.join(out_dir, "face_model.npz")
    model.save_npz(model_path)

    stage = time.monotonic()
    generative = fit_models(config, plan, fit, out_dir)
    seconds["fitting"] = time.monotonic() - stage
    stage = time.monotonic()
    sets = sample_training_sets(config, plan, model.num_parameters, out_dir)
    seconds["sampling"] = time.monotonic() - stage
    data_dirs, test_dir, seconds["rendering"] = render_sets(config, plan, model_path, out_dir, test, sets)
    training, train_seconds = train_networks(config, plan, model, out_dir, data_dirs, test_dir)
    seconds["training"] = sum(train_seconds.values())
    seconds.update({f"training_{k}": v for k, v in train_seconds.items()})
    stage = time.monotonic()
    evaluation = evaluate_networks(config, plan, model, out_dir, test_dir)
    seconds["evaluation"] = time.monotonic() - stage
    stage = time.monotonic()
    diversity = measure_diversity(config, plan, out_dir, fit, test, sets)
    seconds["diversity"] = time.monotonic() - stage
    seconds["total"] = time.monotonic() - started
    result = SamplerStudyResult(out_dir, plan, evaluation, diversity, generative, training, seconds)
    write_study_json(result, config)
    from headsynth.study.samplers_report import write_samplers_report

    result.report = write_samplers_report(result, config, data_dirs)
    return result


def write_study_json(result: SamplerStudyResult, config) -> None:
    from headsynth.io_utils import write_text_atomic

    plan = result.plan
    payload = {
        "preset": config.preset,
        "units": "q in units of sigma (p = sigma * q); samplers defined at another scale enter as scale * q",
        "scenario": plan.scenario,
        "num_train": plan.num_train,
        "train_steps": plan.train_steps,
        "backbone": plan.backbone,
        "test_identities": plan.test_identities,
        "renders_per_identity": plan.renders_per_identity,
        "samplers": {
            name: {"label": e.label, "sampler": e.sampler, "options": e.options, "scale": e.scale}
            for name, e in plan.entries.items()
        },
        "errors": result.evaluation["errors"],
        "identity": result.evaluation["identity"],
        "diversity": {name: s.to_dict() for name, s in result.diversity["summaries"].items()},
        "gmm_candidates": result.generative["gmm"]["candidates"],
        "gmm_selected": result.generative["gmm"]["selected"],
        "cgan": result.generative["cgan"],
        "training": result.training,
        "seconds": result.seconds,
        "report": os.path.join(result.out_dir, "report.html"),
    }
    write_text_atomic(
        os.path.join(result.out_dir, "study.json"), json.dumps(payload, indent=2, default=float)
    )


def command(config, out: str | None) -> int:
    """`headsynth study samplers`: runs the study and prints its tables."""
    from headsynth.components.diversity.tables import text_tables
    from headsynth.pipeline.run_command import quiet_logging
    from headsynth.progress import report

    output_dir = os.path.abspath(out or os.path.join("runs", f"study-samplers-{config.preset}"))
    quiet_logging()
    report("headsynth", f"samplers study, preset {config.preset!r}, into {output_dir}")
    result = run_sampler_study(config, output_dir)
    print(f"\nheadsynth study samplers ({config.preset}) finished in {result.seconds['total']:.0f} s\n")
    print(
        f"{len(result.plan.entries)} networks ({result.plan.backbone}, {result.plan.train_steps} steps, "
        f"{result.plan.num_train} training renders each, scenario {result.plan.scenario}) on the same "
        f"{result.evaluation['test_examples']} test renders of {result.plan.test_identities} held-out realistic "
        "identities; q in units of sigma."
    )
    print(result.table())
    print("\n" + text_tables(result.diversity["summaries"]))
    print(f"\nResults: {os.path.join(output_dir, 'study.json')}")
    print(f"Report: {result.report}")
    return 0
