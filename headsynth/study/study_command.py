"""`headsynth study variability --preset quickstart`: the train x test scenario matrix, figures, report.

    headsynth study variability --preset quickstart [--out DIR] [--set section.key=value ...]

The study's size comes from the preset (sampling, rendering, training) and its
`evaluation` section (study_scenarios, study_num_test, saliency_examples,
identity_*). A rerun with the same configuration reuses the finished stages.
"""

from __future__ import annotations

import argparse
import os

STUDIES = ("variability", "samplers")  # samplers: headsynth/study/samplers.py


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from headsynth.pipeline.run_command import add_config_arguments

    parser.add_argument("study", choices=STUDIES, help="which study (variability: the paper's experiment)")
    add_config_arguments(parser, "evaluation.study_scenarios=none,all")
    parser.add_argument("--out", default=None, help="output folder (default: runs/study-<preset>)")
    parser.add_argument("--show-config", action="store_true", help="print the resolved config and exit")


def command(args: argparse.Namespace) -> int:
    from headsynth.config import apply_overrides, get_preset

    config = apply_overrides(get_preset(args.preset), args.overrides)
    if args.show_config:
        print(config.to_json())
        return 0
    if args.study == "samplers":
        from headsynth.study.samplers import command as samplers_command

        return samplers_command(config, args.out)
    from headsynth.pipeline.run_command import quiet_logging
    from headsynth.progress import report
    from headsynth.report.values import fmt
    from headsynth.study.variability import run_variability_study

    output_dir = os.path.abspath(args.out or os.path.join("runs", f"study-{config.preset}"))
    quiet_logging()
    report("headsynth", f"variability study, preset {config.preset!r}, into {output_dir}")
    result = run_variability_study(config, output_dir)
    print(f"\nheadsynth study variability ({config.preset}) finished in {result.seconds['total']:.0f} s\n")
    print("Mean squared error on q, 95% CI (rows: trained on; columns: tested on)")
    print(result.table())
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
