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

Modules: this one (the study's samplers and its plan), `samplers_data`
(realistic vectors, generative fits, training sets, renders),
`samplers_networks` (training and evaluation), `samplers_result`
(study.json, Table 6.6), `samplers_report` (report.html) and `samplers_run`
(the stages in order).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from headsynth.config import HeadsynthConfig
from headsynth.core.errors import ConfigError


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


def plan_study(config: HeadsynthConfig) -> StudyPlan:
    """Expands `generative.study_samplers` into named entries and resolves the sizes.

    Raises:
        ConfigError: for an empty or unknown `generative.study_samplers`.
    """
    generative = config.generative
    entries = study_entries(generative.study_samplers, generative.study_gmm_components)
    cgan_variants = ()
    if any(e.sampler == "cgan" for e in entries.values()):
        studied = [e.options["variant"] for e in entries.values() if e.sampler == "cgan"]
        cgan_variants = tuple(dict.fromkeys([*generative.cgan_variants, *studied]))
    return StudyPlan(
        entries=entries,
        num_train=generative.study_num_train or config.sampling.num_train,
        train_steps=generative.study_train_steps or config.training.train_steps,
        backbone=generative.study_backbone or config.training.backbone,
        gmm_components=tuple(sorted(set(generative.gmm_components) | set(generative.study_gmm_components))),
        cgan_variants=cgan_variants,
        test_identities=generative.study_test_identities,
        renders_per_identity=generative.study_renders_per_identity,
        scenario=config.rendering.scenario,
    )


def study_entries(names: tuple[str, ...], gmm_sizes: tuple[int, ...]) -> dict[str, StudySampler]:
    """Study name -> sampler, "gmm" expanded to "gmm_<k>" for each size k.

    Raises:
        ConfigError: for no names or unknown ones.
    """
    unknown = [name for name in names if name not in STUDY_SAMPLERS]
    if not names or unknown:
        raise ConfigError(
            f"Unknown generative.study_samplers {unknown or '(none)'}.",
            f"Choose from: {', '.join(STUDY_SAMPLERS)}.",
        )
    entries: dict[str, StudySampler] = {}
    for name in names:
        if name == "gmm":
            for k in gmm_sizes:
                entries[f"gmm_{k}"] = StudySampler(f"GMM {k}", "gmm", {"components": int(k)})
        else:
            entries[name] = STUDY_SAMPLERS[name]
    return entries
