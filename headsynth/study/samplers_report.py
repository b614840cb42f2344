"""The samplers study's self-contained HTML report."""

from __future__ import annotations

import os

from headsynth import wiring
from headsynth.components.diversity.tables import add_diversity_section
from headsynth.config import HeadsynthConfig
from headsynth.report.html import HtmlReport
from headsynth.report.values import fmt
from headsynth.study.samplers_result import SamplerStudyResult, finding_lines, photo_rows, result_rows

UNITS = (
    "Units: every vector is q in units of sigma (p = sigma * q), the units of the realistic vectors; "
    "a sampler defined at another scale enters as scale * q (the paper's U[-1, 1] at scale 1.6 as "
    "U[-1.6, 1.6]). Errors, distances and mean |q| are comparable across samplers."
)
FILES = (
    "  study.json                 every number: errors, identity table, findings, diversity, AIC/BIC, timings\n"
    "  samples/<sampler>.npz      each training set's q (sigma units)\n"
    "  generative/                fitted GMMs and GANs (FitGenerativeModel's layout)\n"
    "  evaluation/errors.npz      per-seed, per-example errors and predictions ([S, N], [S, N, m])\n"
    "  evaluation/identity.npz    per-seed, per-example identity scores ([S, n]) and the different pairs\n"
    "  evaluation/real_photos/    each network's seeds on the packaged real photos (report.html each)\n"
    "  diversity/diversity.json   the diversity measures\n"
    "  nets/<sampler>/seed<k>/    the SavedModels (headsynth predict PHOTO --model nets/<sampler>/seed0)"
)
GAN_HEADER = [
    "GAN",
    "steps",
    "vectors",
    "G parameters",
    "D parameters",
    "final D loss",
    "final G loss",
    "seconds",
]
GMM_HEADER = [
    "components",
    "covariance",
    "AIC",
    "BIC",
    "log-likelihood / vector",
    "free parameters",
    "converged",
]


def write_samplers_report(
    result: SamplerStudyResult, config: HeadsynthConfig, data_dirs: dict[str, str]
) -> str:
    """Writes `report.html` in the study folder; returns its path."""
    report = HtmlReport(f"Samplers study ({config.preset})")
    report.paragraph(summary_text(result, config))
    report.paragraph(UNITS)
    add_error_section(report, result)
    if result.evaluation.get("real_photos"):
        add_photo_section(report, result)
    add_diversity_section(report, result.diversity["summaries"], result.diversity["figures"])
    add_generative_section(report, result)
    add_training_section(report, result)
    add_data_section(report, result, data_dirs)
    report.heading("Files")
    report.preformatted(f"study folder: {result.out_dir}\n{FILES}")
    return report.write(os.path.join(result.out_dir, "report.html"))


def summary_text(result: SamplerStudyResult, config: HeadsynthConfig) -> str:
    """The opening paragraph: what each network was trained on and what all were evaluated on."""
    plan, size = result.plan, wiring.samplers_image_size(config)
    return (
        f"{plan.seeds} network(s) per parameter sampler ({len(plan.entries)} samplers, seeds training.seed + "
        f"0..{plan.seeds - 1}), each trained on "
        f"{plan.num_train} renders of its own sampler's vectors in scenario {plan.scenario} at "
        f"{size}x{size} for {plan.train_steps} steps "
        f"({plan.backbone}, {config.training.head} head, {config.training.optimizer}); every network is "
        f"evaluated on the same {result.evaluation['test_examples']} test renders of "
        f"{plan.test_identities} realistic identities held out of every fit "
        f"({plan.renders_per_identity} render(s) each; {config.face_model.shape_components} shape + "
        f"{config.face_model.texture_components} texture components)."
    )


def add_error_section(report: HtmlReport, result: SamplerStudyResult) -> None:
    """Table 6.6 (error and identity scores), the findings, the error violins and the identity figures."""
    eval_dir = os.path.join(result.out_dir, "evaluation")
    figures = result.evaluation["figures"]
    identity = result.evaluation["identity"]
    report.heading("Error and identity score (the thesis's Table 6.6)")
    report.paragraph(
        f"Means over the test images and the {result.plan.seeds} seed(s) of each sampler's networks with 95% "
        "confidence intervals (a two-way bootstrap over images and seeds). Error: squared euclidean distance "
        "between predicted and true q on the test set. Ranks: per seed and test example the samplers' networks "
        "and the naive predictor (q = 0) are ranked (1 = best), averaged over the examples, then over the seeds."
        + (identity_text(identity) if identity else "")
        + " Mean |q|: of the predictions and of the training vectors."
    )
    report.table(*result_rows(result))
    add_findings(report, result.evaluation["findings"])
    if "error_violins.png" in figures:
        report.image(os.path.join(eval_dir, "error_violins.png"), figures["error_violins.png"])
    if identity:
        add_calibration(report, identity)
        for name, caption in figures.items():
            if name != "error_violins.png":
                report.image(os.path.join(eval_dir, name), caption)


def add_photo_section(report: HtmlReport, result: SamplerStudyResult) -> None:
    """Every network's seeds on the packaged real photographs (the role of the thesis's real test photos)."""
    photos = result.evaluation["real_photos"]
    report.heading("Real photographs")
    report.paragraph(
        f"Every seed of every network reconstructs the {len(photos['faces'])} faces of the real photos that "
        f"ship offline ({', '.join(photos['faces'])}), framed as its training images were; dlib compares a "
        "frontal rendering of each reconstruction with its own photo (cosine; mean with a 95% CI over faces "
        "and seeds), with the mean face's rendering (q = 0: the naive predictor) and with the other photos "
        "(rank-1: its own photo ranks first). Each network's photo report is under "
        "evaluation/real_photos/<sampler>/seed<k>/."
    )
    report.table(*photo_rows(result))
    for note in photos["notes"]:
        report.paragraph(note, "note")


def identity_text(identity: dict) -> str:
    """How to read the identity columns."""
    reference = "a frontal rendering of the truth" if identity["reference"] == "truth" else "the input render"
    dlib = identity["measure"] == "dlib"
    return (
        f" Identity: face recognition ({identity['backend']}) between {reference} and a frontal rendering of "
        f"the prediction on {len(identity['examples'])} test examples: the cosine of the embeddings"
        + (
            ", dlib's distance-based similarity 1 - L2/2 (0.7 at dlib's same-person threshold L2 = 0.6)"
            if dlib
            else ""
        )
        + "; calibrated: the fraction of the test references' different-identity pairs that score lower (0.5: a "
        f"typical stranger, 1: above every stranger); corrected: the thesis's Eq. 6.2 (n = "
        f"{identity['corrected_score_n']:g}) on the {'dlib similarity' if dlib else 'cosine'}, and calibrated "
        "alike. Ranks by that similarity, raw and corrected."
    )


def add_calibration(report: HtmlReport, identity: dict) -> None:
    """The different-pair distribution the calibration reads scores against, and each network's penalty."""
    different = identity["different_pairs"]
    scale = "dlib similarity" if identity["measure"] == "dlib" else "cosine"
    report.paragraph(
        f"Calibration: {different['count']} pairs of test references of different identities score "
        f"{fmt(different['mean'], 3)} on average ({scale}; quartiles {fmt(different['q25'], 3)}, "
        f"{fmt(different['median'], 3)}, {fmt(different['q75'], 3)}). The corrected score's penalty (score - "
        "corrected, mean over images and seeds) against that spread: "
        + ", ".join(
            f"{row['network']} {fmt(row['penalty'], 3)} ({fmt(100 * row['calibrated_penalty'], 1)} percentile points)"
            for row in identity["table"]
        )
        + "."
    )


def add_findings(report: HtmlReport, findings: list[dict]) -> None:
    """The thesis's findings on Table 6.6, computed from this run."""
    report.heading("Findings")
    report.paragraph(
        "The thesis's findings, checked on this run: a comparison holds when the 95% CI of the difference (over "
        "images and seeds) lies entirely on its side of 0; claims about samplers the run did not train are not "
        "tested."
    )
    report.preformatted("\n".join(f"- {line}" for line in finding_lines(findings)))


def add_generative_section(report: HtmlReport, result: SamplerStudyResult) -> None:
    """The GMM candidates with AIC/BIC (Table 5.4), their figures, and the GANs."""
    gmm = result.generative["gmm"]
    report.heading("Generative models")
    report.paragraph(
        f"Gaussian mixtures fitted to the {result.generative['num_vectors']} realistic vectors not held out "
        f"({result.generative['source']}), with AIC and BIC (the thesis's Table 5.4); selected by "
        f"{gmm['selection_rule']}: {gmm['selected']['components']} components ({gmm['selected']['covariance_type']})."
    )
    report.table(GMM_HEADER, [gmm_row(c) for c in gmm["candidates"]])
    generative_dir = os.path.join(result.out_dir, "generative")
    report.image(os.path.join(generative_dir, "aic_bic.png"), "AIC and BIC against the number of components.")
    report.image(
        os.path.join(generative_dir, "gmm_pca.png"),
        "The fitted vectors and samples of each mixture in the fitted vectors' first 2 principal components "
        "(the thesis's Fig. 5.6).",
    )
    variants = result.generative["cgan"]["variants"]
    if variants:
        report.table(GAN_HEADER, [gan_row(name, v) for name, v in variants.items()])


def gmm_row(candidate: dict) -> list:
    """One candidate mixture's row of Table 5.4."""
    c = candidate
    return [
        c["components"],
        c["covariance_type"],
        f"{c['aic']:.4g}",
        f"{c['bic']:.4g}",
        f"{c['log_likelihood']:.3f}",
        c["free_parameters"],
        "yes" if c["converged"] else "no",
    ]


def gan_row(name: str, variant: dict) -> list:
    """One GAN's sizes, final losses and training time."""
    v = variant
    return [
        name,
        v["steps"],
        v["vectors"],
        v["generator_parameters"],
        v["discriminator_parameters"],
        f"{v['d_loss'][-1]:.3f}",
        f"{v['g_loss'][-1]:.3f}",
        f"{v['seconds']:.0f}",
    ]


def add_training_section(report: HtmlReport, result: SamplerStudyResult) -> None:
    """Steps, final losses and seconds per network, and the time of every stage."""
    report.heading("Training")
    report.table(
        ["sampler", "seed", "steps", "final train loss", "final validation loss", "seconds"],
        [
            [
                result.plan.entries[name.split("/")[0]].label,
                name.split("/")[-1].removeprefix("seed"),
                r.get("train_steps", ""),
                f"{r.get('train_loss', float('nan')):.3f}",
                f"{r.get('val_loss', float('nan')):.3f}",
                f"{result.seconds.get(f'training_{name}', 0.0):.0f}",
            ]
            for name, r in result.training.items()
        ],
    )
    report.paragraph(
        "Time: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items() if not k.startswith("training_"))
    )


def add_data_section(report: HtmlReport, result: SamplerStudyResult, data_dirs: dict[str, str]) -> None:
    """The contact sheet of every training set and of the test set."""
    scenario = result.plan.scenario
    report.heading("Training data")
    for name, folder in data_dirs.items():
        report.image(
            os.path.join(folder, f"contact_sheet_{scenario}.png"),
            f"The first training examples of {result.plan.entries[name].label}.",
        )
    report.image(
        os.path.join(result.out_dir, "data", "test", f"contact_sheet_{scenario}.png"),
        "The first test examples (realistic held-out identities).",
    )
