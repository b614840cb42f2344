"""The paper's findings, computed from the variability study's errors: claim, holds, numbers, 95% CIs.

Every CI is `study.bootstrap`'s two-way bootstrap over seeds and images; a
comparison "a below b" holds when the CI of the difference of the mean
errors lies entirely below 0.

The claims (Goepfert et al., Section 4, on test scenario *all*):

- Fig. 7: *none* and *angle* are worse than naive (q = 0); *angle_bg* is
  better than naive; *all* is best.
- Fig. 8: *none*'s error is lowest within +-15 degrees of its training yaw;
  at the mirrored yaw it is lower than at the frontal one; *all* is lowest
  between the frontal view and the profile.
- Fig. 9: *all* puts a larger share of its saliency on the head than *none*.
"""

from __future__ import annotations

import numpy as np

from headsynth.study.bootstrap import Bootstrap, below, difference, finding, mean_with_ci

# Windows of the yaw (degrees): centre +- YAW_HALF_WIDTH.
YAW_HALF_WIDTH = 15.0
NONE_TRAINING_YAW = 45.0  # the *none* scenario's fixed yaw (rendering/scenarios.py)


def fig7_findings(errors: dict[str, np.ndarray], bootstrap: Bootstrap) -> list[dict]:
    """Fig. 7 on test *all*: none and angle worse than naive, angle_bg better, all best.

    Args:
        errors: network (or "naive") -> `[S, N]` errors on test *all*.
    """
    findings = []
    naive = errors["naive"]
    for net in ("none", "angle"):
        if net in errors:
            comparison = {"a": "naive", "b": net, **difference(naive, errors[net], bootstrap)}
            findings.append(
                finding("Fig. 7", f"{net} is worse than naive on test all", below(comparison), [comparison])
            )
    if "angle_bg" in errors:
        comparison = {"a": "angle_bg", "b": "naive", **difference(errors["angle_bg"], naive, bootstrap)}
        findings.append(
            finding("Fig. 7", "angle_bg is better than naive on test all", below(comparison), [comparison])
        )
    if "all" in errors:
        comparisons = [
            {"a": "all", "b": other, **difference(errors["all"], errors[other], bootstrap)}
            for other in errors
            if other != "all"
        ]
        holds = all(below(c) for c in comparisons)
        findings.append(
            finding("Fig. 7", "all is the best network on test all (and beats naive)", holds, comparisons)
        )
    return findings


def yaw_window(yaw: np.ndarray, centre: float, half_width: float = YAW_HALF_WIDTH) -> np.ndarray:
    """`[N]` bool: the images whose yaw lies within centre +- half_width."""
    return np.abs(np.asarray(yaw) - centre) <= half_width


def fig8_findings(errors: dict[str, np.ndarray], yaw: np.ndarray, bootstrap: Bootstrap) -> list[dict]:
    """Fig. 8 on test *all*: none's sweet spot at its training yaw and its mirror, all's between frontal and profile.

    Args:
        errors: network -> `[S, N]` errors on test *all*.
        yaw: `[N]` the test images' yaw in degrees.
    """
    findings = []
    if "none" in errors:
        findings.append(none_sweet_spot(errors["none"], yaw, bootstrap))
        mirrored, frontal = yaw_window(yaw, -NONE_TRAINING_YAW), yaw_window(yaw, 0.0)
        if mirrored.any() and frontal.any():
            comparison = {
                "a": f"none at yaw {-NONE_TRAINING_YAW:+.0f}",
                "b": "none at yaw 0",
                **difference(errors["none"], errors["none"], bootstrap, mirrored, frontal),
            }
            findings.append(
                finding(
                    "Fig. 8",
                    "none's error at the mirrored yaw is lower than at the frontal view",
                    below(comparison),
                    [comparison],
                )
            )
    if "all" in errors:
        findings.append(all_between_frontal_and_profile(errors["all"], yaw, bootstrap))
    return findings


def none_sweet_spot(none: np.ndarray, yaw: np.ndarray, bootstrap: Bootstrap) -> dict:
    """none's error within +-15 degrees of its training yaw against every other 30-degree yaw window."""
    claim = "none's error is lowest within +-15 degrees of its training yaw (45)"
    centres = [c for c in np.arange(-75.0, 76.0, 2 * YAW_HALF_WIDTH) if yaw_window(yaw, c).any()]
    spot = yaw_window(yaw, NONE_TRAINING_YAW)
    if not spot.any():
        return finding("Fig. 8", claim, False, [], {"note": "no test image within +-15 degrees of yaw 45"})
    comparisons = [
        {
            "a": f"none at yaw {NONE_TRAINING_YAW:+.0f}",
            "b": f"none at yaw {c:+.0f}",
            **difference(none, none, bootstrap, spot, yaw_window(yaw, c)),
        }
        for c in centres
        if c != NONE_TRAINING_YAW
    ]
    return finding("Fig. 8", claim, all(below(c) for c in comparisons), comparisons)


def all_between_frontal_and_profile(net: np.ndarray, yaw: np.ndarray, bootstrap: Bootstrap) -> dict:
    """all's error at intermediate yaws (15..75 degrees either side) against frontal (<15) and profile (>75)."""
    size = np.abs(np.asarray(yaw))
    between = (size > YAW_HALF_WIDTH) & (size < 90.0 - YAW_HALF_WIDTH)
    ends = {
        "frontal (|yaw| <= 15)": size <= YAW_HALF_WIDTH,
        "profile (|yaw| >= 75)": size >= 90.0 - YAW_HALF_WIDTH,
    }
    comparisons = [
        {
            "a": "all at 15 < |yaw| < 75",
            "b": f"all at {name}",
            **difference(net, net, bootstrap, between, where),
        }
        for name, where in ends.items()
        if where.any() and between.any()
    ]
    holds = bool(between.any()) and len(comparisons) == 2 and all(below(c) for c in comparisons)
    return finding(
        "Fig. 8", "all's error is lowest between the frontal view and the profile", holds, comparisons
    )


def fig9_findings(shares: dict[str, np.ndarray], bootstrap: Bootstrap) -> list[dict]:
    """Fig. 9: all's share of saliency inside the head mask is larger than none's.

    Args:
        shares: network -> `[S, K]` share of each image's saliency inside its head mask.
        bootstrap: resampling of the K images.
    """
    if "all" not in shares or "none" not in shares:
        return []
    comparison = {"a": "none", "b": "all", **difference(shares["none"], shares["all"], bootstrap)}
    values = {net: mean_with_ci(share, bootstrap) for net, share in shares.items()}
    return [
        finding(
            "Fig. 9",
            "all puts a larger share of its saliency inside the head mask than none",
            below(comparison),
            [comparison],
            values,
        )
    ]


def compute_findings(
    errors_on_all: dict[str, np.ndarray],
    yaw: np.ndarray,
    saliency_shares: dict[str, np.ndarray],
    resamples: int,
    seed: int = 0,
) -> list[dict]:
    """Every finding the study's networks allow (a claim about a network not trained is left out).

    Args:
        errors_on_all: network (and "naive") -> `[S, N]` errors on test *all* (naive: `[1, N]`).
        yaw: `[N]` yaw of those test images.
        saliency_shares: network -> `[S, K]` saliency share inside the head (may be empty).
        resamples: bootstrap resamples.
        seed: the bootstrap's seed.
    """
    num_images = np.atleast_2d(errors_on_all["naive"]).shape[1]
    bootstrap = Bootstrap.of(num_images, resamples, seed)
    findings = fig7_findings(errors_on_all, bootstrap) + fig8_findings(errors_on_all, yaw, bootstrap)
    if saliency_shares:
        count = next(iter(saliency_shares.values())).shape[1]
        findings += fig9_findings(saliency_shares, Bootstrap.of(count, resamples, seed + 1))
    return findings
