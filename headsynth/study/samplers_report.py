"""The samplers study's self-contained HTML report."""

from __future__ import annotations

import os

from headsynth.components.diversity.tables import add_diversity_section
from headsynth.components.evaluation.run_report import add_identity_section
from headsynth.report.html import HtmlReport


def write_samplers_report(result, config, data_dirs: dict[str, str]) -> str:
    """Writes `report.html` in the study folder; returns its path."""
    from headsynth.study.samplers import result_rows

    plan = result.plan
    eval_dir = os.path.join(result.out_dir, "evaluation")
    report = HtmlReport(f"Samplers study ({config.preset})")
    report.paragraph(
        f"One network per parameter sampler ({len(plan.entries)} networks), each trained on "
        f"{plan.num_train} renders of its own sampler's vectors in scenario {plan.scenario} at "
        f"{config.rendering.image_size}x{config.rendering.image_size} for {plan.train_steps} steps "
        f"({plan.backbone}, {config.training.head} head, {config.training.optimizer}); every network is "
        f"evaluated on the same {result.evaluation['test_examples']} test renders of "
        f"{plan.test_identities} realistic identities held out of every fit "
        f"({plan.renders_per_identity} render(s) each; {config.face_model.shape_components} shape + "
        f"{config.face_model.texture_components} texture components)."
    )
    report.paragraph(
        "Units: every vector is q in units of sigma (p = sigma * q), the units of the realistic vectors; "
        "a sampler defined at another scale enters as scale * q (the paper's U[-1, 1] at scale 1.6 as "
        "U[-1.6, 1.6]). Errors, distances and mean |q| are comparable across samplers."
    )
    report.heading("Error and identity score (the thesis's Table 6.6)")
    identity = result.evaluation["identity"]
    report.paragraph(
        "Error: mean squared euclidean distance between predicted and true q on the test set, with its 95% "
        "confidence interval. Error rank: per test example the networks and the naive predictor (q = 0) are "
        "ranked by error (1 = best), averaged over the examples."
        + (
            f" Identity: face-recognition similarity ({identity['backend']}) between a frontal rendering of the "
            "prediction and of the truth, with the thesis's corrected score (Eq. 6.2) and mean ranks."
            if identity
            else ""
        )
        + " Mean |q|: of the predictions and of the training vectors."
    )
    header, rows = result_rows(result)
    report.table(header, rows)
    if "error_violins.png" in result.evaluation["figures"]:
        report.image(
            os.path.join(eval_dir, "error_violins.png"), result.evaluation["figures"]["error_violins.png"]
        )
    if identity:
        add_identity_section(
            report,
            {
                **identity,
                "figures": {
                    k: v for k, v in result.evaluation["figures"].items() if k != "error_violins.png"
                },
            },
            eval_dir,
        )
    add_diversity_section(report, result.diversity["summaries"], result.diversity["figures"])

    report.heading("Generative models")
    gmm = result.generative["gmm"]
    report.paragraph(
        f"Gaussian mixtures fitted to the {result.generative['num_vectors']} realistic vectors not held out "
        f"({result.generative['source']}), with AIC and BIC (the thesis's Table 5.4); selected by "
        f"{gmm['selection_rule']}: {gmm['selected']['components']} components ({gmm['selected']['covariance_type']})."
    )
    report.table(
        ["components", "covariance", "AIC", "BIC", "log-likelihood / vector", "free parameters", "converged"],
        [
            [
                c["components"],
                c["covariance_type"],
                f"{c['aic']:.4g}",
                f"{c['bic']:.4g}",
                f"{c['log_likelihood']:.3f}",
                c["free_parameters"],
                "yes" if c["converged"] else "no",
            ]
            for c in gmm["candidates"]
        ],
    )
    generative_dir = os.path.join(result.out_dir, "generative")
    report.image(os.path.join(generative_dir, "aic_bic.png"), "AIC and BIC against the number of components.")
    report.image(
        os.path.join(generative_dir, "gmm_pca.png"),
        "The fitted vectors and samples of each mixture in the fitted vectors' first 2 principal components "
        "(the thesis's Fig. 5.6).",
    )
    variants = result.generative["cgan"]["variants"]
    if variants:
        report.table(
            [
                "GAN",
                "steps",
                "vectors",
                "G parameters",
                "D parameters",
                "final D loss",
                "final G loss",
                "seconds",
            ],
            [
                [
                    name,
                    v["steps"],
                    v["vectors"],
                    v["generator_parameters"],
                    v["discriminator_parameters"],
                    f"{v['d_loss'][-1]:.3f}",
                    f"{v['g_loss'][-1]:.3f}",
                    f"{v['seconds']:.0f}",
                ]
                for name, v in variants.items()
            ],
        )
    report.heading("Training")
    report.table(
        ["sampler", "steps", "final train loss", "final validation loss", "seconds"],
        [
            [
                plan.entries[name].label,
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
    report.heading("Training data")
    for name, folder in data_dirs.items():
        report.image(
            os.path.join(folder, f"contact_sheet_{plan.scenario}.png"),
            f"The first training examples of {plan.entries[name].label}.",
        )
    report.image(
        os.path.join(result.out_dir, "data", "test", f"contact_sheet_{plan.scenario}.png"),
        "The first test examples (realistic held-out identities).",
    )
    report.heading("Files")
    report.preformatted(
        f"study folder: {result.out_dir}\n"
        "  study.json                 every number: errors, identity table, diversity, AIC/BIC, timings\n"
        "  samples/<sampler>.npz      each training set's q (sigma units)\n"
        "  generative/                fitted GMMs and GANs (FitGenerativeModel's layout)\n"
        "  evaluation/errors.npz      per-example errors and predictions\n"
        "  diversity/diversity.json   the diversity measures\n"
        "  nets/<sampler>/serving/    the SavedModels (headsynth predict PHOTO --model nets/<sampler>)"
    )
    return report.write(os.path.join(result.out_dir, "report.html"))
