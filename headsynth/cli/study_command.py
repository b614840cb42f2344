"""`headsynth study variability|samplers --preset quickstart`: the studies, their tables and reports.

    headsynth study variability --preset quickstart [--seeds N] [--out DIR] [--set section.key=value ...]
    headsynth study samplers --preset quickstart [--seeds N] [--out DIR] [--set section.key=value ...]

The variability study (`headsynth/study/variability.py`) trains
`variability.seeds` networks per scenario, evaluates each on every scenario
and computes the paper's findings; the samplers study
(`headsynth/study/samplers.py`) trains one network per parameter sampler. A
study's size comes from the preset: the `variability` section (num_train,
image_size, backbone, train_steps, seeds; empty values take the sampling,
rendering and training sections') and `evaluation` (study_scenarios,
study_num_test, saliency_examples, identity_*), or the `generative.study_*`
keys. A rerun with the same configuration reuses the finished stages.
"""

from __future__ import annotations

import argparse
import os

from headsynth.cli.arguments import add_beam_arg_option, add_config_arguments, resolve_config
from headsynth.config import HeadsynthConfig, apply_overrides
from headsynth.core.logs import quiet_logging
from headsynth.core.progress import report
from headsynth.report.values import fmt

STUDIES = ("variability", "samplers")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", choices=STUDIES, help="which study (variability: the paper's experiment)")
    add_config_arguments(parser, "evaluation.study_scenarios=none,all")
    add_beam_arg_option(parser)
    parser.add_argument("--out", default=None, help="output folder (default: runs/study-<preset>)")
    parser.add_argument("--show-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        metavar="N",
        help="networks per scenario or sampler, each with its own seed (variability.seeds or "
        "generative.study_seeds; the preset's by default, 3 at quickstart)",
    )


def command(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    if args.seeds is not None:
        key = "variability.seeds" if args.study == "variability" else "generative.study_seeds"
        config = apply_overrides(config, [f"{key}={args.seeds}"])
    if args.show_config:
        print(config.to_json())
        return 0
    if args.study == "samplers":
        return samplers_command(config, args.out)
    return variability_command(config, args.out)


def variability_command(config: HeadsynthConfig, out: str | None) -> int:
    """Runs the variability study and prints the train x test matrix and the identity scores."""
    # TensorFlow and the renderer load only when a study runs, so `headsynth --help` stays fast.
    from headsynth.study.variability import run_variability_study

    output_dir = os.path.abspath(out or os.path.join("runs", f"study-{config.preset}"))
    quiet_logging()
    report("headsynth", f"variability study, preset {config.preset!r}, into {output_dir}")
    result = run_variability_study(config, output_dir)
    print(f"\nheadsynth study variability ({config.preset}) finished in {result.seconds['total']:.0f} s\n")
    print(
        f"Mean squared error on q, 95% CI over {result.seeds} seed(s) and the test images "
        "(rows: trained on; columns: tested on)"
    )
    print(result.table())
    if result.findings:
        print("\nThe paper's findings in this run:")
        for finding in result.findings:
            print(
                f"  [{'holds' if finding['holds'] else 'does not hold'}] {finding['figure']}: {finding['claim']}"
            )
    if result.probes:
        print(
            f"\nWhich factor of {result.probes['focus']} breaks which network: mean error on "
            f"{result.probes['base']} with one kind of {result.probes['focus']}'s variability added (95% CIs):"
        )
        print(result.probe_table())
    if result.identity:
        print(f"\nIdentity score ({result.identity['backend']}) on {result.identity['test_scenario']!r}:")
        for row in result.identity["table"]:
            print(
                f"  {row['network']:<10} score {fmt(row['score']['mean'])} (rank {fmt(row['rank'], 2)}), "
                f"corrected {fmt(row['corrected_score']['mean'])} (rank {fmt(row['corrected_rank'], 2)})"
            )
    print(f"\nResults: {os.path.join(output_dir, 'study.json')}")
    print(f"TensorBoard: headsynth tensorboard {output_dir}")
    print(f"Report: {result.report}")
    return 0


def samplers_command(config: HeadsynthConfig, out: str | None) -> int:
    """Runs the samplers study and prints Table 6.6 and the diversity tables."""
    # TensorFlow and the renderer load only when a study runs, so `headsynth --help` stays fast.
    from headsynth.components.diversity.tables import text_tables
    from headsynth.study.samplers_run import run_sampler_study

    output_dir = os.path.abspath(out or os.path.join("runs", f"study-samplers-{config.preset}"))
    quiet_logging()
    report("headsynth", f"samplers study, preset {config.preset!r}, into {output_dir}")
    result = run_sampler_study(config, output_dir)
    plan = result.plan
    print(f"\nheadsynth study samplers ({config.preset}) finished in {result.seconds['total']:.0f} s\n")
    print(
        f"{len(plan.entries)} samplers x {plan.seeds} seed(s) ({plan.backbone}, {plan.train_steps} steps, "
        f"{plan.num_train} training renders each, scenario {plan.scenario}) on the same "
        f"{result.evaluation['test_examples']} test renders of {plan.test_identities} held-out realistic "
        "identities; q in units of sigma."
    )
    print(result.table())
    if result.photo_table():
        print("\nOn the packaged real photographs (95% CIs over faces and seeds):\n" + result.photo_table())
    print("\nThe thesis's findings in this run (95% CIs over images and seeds):\n" + result.findings())
    print("\n" + text_tables(result.diversity["summaries"]))
    print(f"\nResults: {os.path.join(output_dir, 'study.json')}")
    print(f"Report: {result.report}")
    return 0
