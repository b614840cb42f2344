"""The thesis's findings on Table 6.6, computed from the samplers study's run: claim, holds, numbers, 95% CIs.

The claims (Section 6.4.2 and Table 6.6 of the thesis):

- naive uniform 4 beats naive normal 1.5, by the corrected identity score
  and by the parameter error (the thesis: corrected .7793 vs .7793, raw
  .7930 vs .7840: uniform 4 had the best raw score of all);
- each GMM beats naive uniform 4 (the thesis: no; GMM 1 corrected .7781,
  raw .7885, "over average for raw scores, only the middle for corrected");
- CVGAN2 ranks in the lower half of the samplers (the thesis: 22nd of 25 by
  corrected score, .7670, corrected mean rank 65.78 of 120).

A comparison "a beats b" holds when the 95% CI of the difference of the
means (a - b; `study.bootstrap`'s two-way bootstrap over images and seeds,
seed k of a paired with seed k of b) lies entirely above 0 for a score, below
0 for an error. Identity comparisons use the images both networks were
scored on in every seed. A claim about samplers the run did not train is
listed as not tested.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headsynth.components.sampling.specs import FORMS
from headsynth.study.bootstrap import Bootstrap, difference, finding
from headsynth.study.samplers import StudySampler

FIGURE = "Table 6.6"
THESIS = {
    "uniform_vs_normal": "the thesis: corrected .7793 vs .7793, raw .7930 vs .7840 (uniform 4 best raw score)",
    "gmm_vs_uniform": "the thesis: no (GMM 1 corrected .7781 vs .7793, raw .7885 vs .7930)",
    "cvgan2_rank": "the thesis: 22nd of 25 by corrected score (.7670; corrected mean rank 65.78 of 120)",
}


@dataclass
class Measure:
    """One measure of every network: its `[S, n]` values (NaN: unscored), resampling and direction."""

    name: str
    values: dict[str, np.ndarray]
    bootstrap: Bootstrap
    higher_is_better: bool


def find_entry(entries: dict[str, StudySampler], sampler: str, **values) -> str | None:
    """The study name of the entry of `sampler` with these argument values, defaults included (None when the
    run has none)."""
    for name, entry in entries.items():
        if entry.sampler != sampler:
            continue
        given = {**FORMS[sampler].defaults(), **entry.options}
        if all(given.get(k) == v for k, v in values.items()):
            return name
    return None


def compare(measure: Measure, a: str, b: str, labels: dict[str, str]) -> dict:
    """Whether `a` beats `b` by `measure`: means, the difference a - b with its 95% CI, `a_better`."""
    va, vb = np.atleast_2d(measure.values[a]), np.atleast_2d(measure.values[b])
    select = np.all(np.isfinite(va), axis=0) & np.all(np.isfinite(vb), axis=0)
    result = {"measure": measure.name, "a": labels[a], "b": labels[b], "images": int(select.sum())}
    if not select.any():
        return {**result, "difference": float("nan"), "ci95": [float("nan")] * 2, "a_better": False}
    va, vb = np.nan_to_num(va), np.nan_to_num(vb)
    diff = difference(va, vb, measure.bootstrap, select, select)
    low, high = diff["ci95"]
    return {
        **result,
        "mean_a": float(va[:, select].mean()),
        "mean_b": float(vb[:, select].mean()),
        **diff,
        "a_better": bool(low > 0 if measure.higher_is_better else high < 0),
    }


def not_tested(claim: str, missing: str) -> dict:
    """A claim whose samplers the run did not train."""
    return {
        **finding(FIGURE, claim, False, []),
        "holds": None,
        "tested": False,
        "note": f"not tested: {missing}",
    }


def beats(
    measures: list[Measure], a: str | None, b: str | None, labels: dict, thesis: str, what: str
) -> list:
    """One finding per measure: "`a` beats `b` by <measure>" (not tested when either is absent)."""
    if a is None or b is None:
        return [
            not_tested(f"{what} by {m.name}", "a sampler of the claim is not in the run") for m in measures
        ]
    found = []
    for measure in measures:
        comparison = compare(measure, a, b, labels)
        claim = f"{labels[a]} beats {labels[b]} by {measure.name}"
        found.append(
            {**finding(FIGURE, claim, comparison["a_better"], [comparison]), "tested": True, "thesis": thesis}
        )
    return found


def rank_finding(measure: Measure, net: str | None, labels: dict[str, str], studied: list[str]) -> dict:
    """CVGAN2's position among the studied samplers by the mean of `measure` (1 = best); holds in the lower half."""
    claim = f"CVGAN2 ranks in the lower half of the samplers by {measure.name}"
    if net is None or len(studied) < 2:
        return not_tested(claim, "CVGAN2 is not in the run" if net is None else "no other sampler")
    means = {name: float(np.nanmean(measure.values[name])) for name in studied}
    order = sorted(studied, key=lambda name: -means[name] if measure.higher_is_better else means[name])
    position = order.index(net) + 1
    comparisons = [compare(measure, net, other, labels) for other in order if other != net]
    values = {
        "position": position,
        "of": len(studied),
        "order": [labels[name] for name in order],
        "significantly_worse_than": sum(
            compare(measure, other, net, labels)["a_better"] for other in order if other != net
        ),
    }
    holds = position > len(studied) / 2
    return {
        **finding(FIGURE, claim, holds, comparisons, values),
        "tested": True,
        "thesis": THESIS["cvgan2_rank"],
    }


def compute_sampler_findings(
    entries: dict[str, StudySampler],
    errors: dict[str, np.ndarray],
    corrected: dict[str, np.ndarray],
    resamples: int,
    seed: int = 0,
) -> list[dict]:
    """Every finding of the module docstring, from the run's numbers.

    Args:
        entries: the study's samplers (name -> `StudySampler`).
        errors: name (and "naive") -> `[S, N]` squared errors on the test set.
        corrected: name -> `[S, n]` corrected identity scores (NaN: unscored); empty without identity scores.
        resamples: bootstrap resamples.
        seed: the bootstrap's seed.
    """
    labels = {name: entry.label for name, entry in entries.items()} | {"naive": "naive (q = 0)"}
    num_images = np.atleast_2d(next(iter(errors.values()))).shape[1]
    measures = []
    if corrected:
        count = np.atleast_2d(next(iter(corrected.values()))).shape[1]
        measures.append(
            Measure("corrected identity score", corrected, Bootstrap.of(count, resamples, seed), True)
        )
    measures.append(Measure("parameter error", errors, Bootstrap.of(num_images, resamples, seed), False))
    uniform = find_entry(entries, "naive_uniform", limit=4.0)
    normal = find_entry(entries, "naive_normal", std=1.5)
    found = beats(
        measures,
        uniform,
        normal,
        labels,
        THESIS["uniform_vs_normal"],
        "naive uniform 4 beats naive normal 1.5",
    )
    gmms = [name for name, entry in entries.items() if entry.sampler == "gmm"]
    if not gmms or uniform is None:
        found += [
            not_tested(
                f"the GMMs beat naive uniform 4 by {m.name}", "no GMM or no naive uniform 4 in the run"
            )
            for m in measures
        ]
    for gmm in gmms if uniform is not None else []:
        found += beats(measures, gmm, uniform, labels, THESIS["gmm_vs_uniform"], "")
    cvgan2 = find_entry(entries, "cgan", variant="cvgan2")
    found.append(rank_finding(measures[0], cvgan2, labels, list(entries)))
    return found
