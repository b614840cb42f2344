"""The samplers study (the thesis's Table 6.6): one regressor per parameter sampler, one shared test set.

    headsynth study samplers --preset quickstart [--out DIR] [--set section.key=value ...]

Every sampler of `generative.study_samplers` (by default: paper uniform,
naive uniform 4, naive normal 1.5, composite, meta normal, GMM at the sizes
of `generative.study_gmm_components`, CVGAN2; any sampler spec, e.g.
"naive_uniform:3.5" or "composite:0.8,2,2.6") draws the same number of
training vectors; each set is rendered in the same scenario
(`rendering.scenario`) and trains `generative.study_seeds` networks with the
same settings (training seeds `training.seed + k`; the thesis trained each
set 4 times). All networks are evaluated on the same held-out test set:
renders of realistic identities that no generative model was fitted to. The
study reports the parameter error and the identity score of every network
(cosine, dlib's distance-based similarity, its calibration against
different-identity pairs, the corrected score: `components/identity/
calibration.py`) with ranks per seed averaged and 95% confidence intervals
over images and seeds (`study.bootstrap`), the thesis's findings computed
from the run (`samplers_findings`), and the diversity of every training set
(the thesis's Tables 6.3-6.5, Figs. 6.6-6.10).

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
    nets/<sampler>/seed<k>/serving, logs  the network trained with seed k
    evaluation/                      errors.npz ([S, N] per sampler), error_violins.png,
                                     identity.json, identity.npz ([S, n] per sampler) and figures
    diversity/                       diversity.json and figures
    study.json                       every number, timings, paths
    report.html                      everything in one page

Each stage writes a stamp of what it ran with; a rerun reuses finished stages.

Modules: this one (the study's samplers and its plan), `samplers_data`
(realistic vectors, generative fits, training sets, renders),
`samplers_networks` (training and evaluation), `samplers_identity` (identity
scores per seed and image), `samplers_findings`, `samplers_result`
(study.json, Table 6.6), `samplers_report` (report.html) and `samplers_run`
(the stages in order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from headsynth.components.sampling.specs import ALIASES, FORMS, parse_sampler_spec, sampler_label
from headsynth.config import HeadsynthConfig
from headsynth.config.overrides import sampler_name
from headsynth.core.errors import ConfigError


@dataclass(frozen=True)
class StudySampler:
    """One entry of the study.

    Attributes:
        label: the name in tables ("naive uniform 4").
        sampler: the registered sampler it calls (`sampling/samplers.py`).
        options: the sampler's options (its spec's arguments).
        scale: the scale the sampler's q is defined at; the study uses scale * q.
    """

    label: str
    sampler: str
    options: dict = field(default_factory=dict)
    scale: float = 1.0


# Labels that say more than the spec's (`specs.sampler_label`), and scales other than 1.
STUDY_LABELS = {
    "paper_uniform": "paper uniform (U[-1,1] x 1.6)",
    "cgan:cvgan1": "CVGAN1 [2000, 1000, 500] dropout",
    "cgan:cvgan2": "CVGAN2 [500, 500] noise",
}
STUDY_SCALES = {"paper_uniform": 1.6}


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
    seeds: int = 1
    bootstrap: int = 2000


def plan_study(config: HeadsynthConfig) -> StudyPlan:
    """Expands `generative.study_samplers` into named entries and resolves the sizes.

    Raises:
        ConfigError: for an empty or unknown `generative.study_samplers`.
    """
    generative = config.generative
    entries = study_entries(
        generative.study_samplers, generative.study_gmm_components, (*generative.cgan_variants, "cvgan2")[0]
    )
    cgan_variants = ()
    if any(e.sampler == "cgan" for e in entries.values()):
        studied = [e.options["variant"] for e in entries.values() if e.sampler == "cgan"]
        cgan_variants = tuple(dict.fromkeys([*generative.cgan_variants, *studied]))
    sizes = {e.options["components"] for e in entries.values() if e.sampler == "gmm"}
    return StudyPlan(
        entries=entries,
        num_train=generative.study_num_train or config.sampling.num_train,
        train_steps=generative.study_train_steps or config.training.train_steps,
        backbone=generative.study_backbone or config.training.backbone,
        gmm_components=tuple(
            sorted(set(generative.gmm_components) | set(generative.study_gmm_components) | sizes)
        ),
        cgan_variants=cgan_variants,
        test_identities=generative.study_test_identities,
        renders_per_identity=generative.study_renders_per_identity,
        scenario=config.rendering.scenario,
        seeds=generative.study_seeds,
        bootstrap=generative.study_bootstrap,
    )


def study_entries(
    names: tuple[str, ...], gmm_sizes: tuple[int, ...], cgan_variant: str = "cvgan2"
) -> dict[str, StudySampler]:
    """Study name -> sampler, for each spec of `names`; "gmm" without a size expands to "gmm_<k>" for
    each size k, "cgan" without a variant is `cgan_variant`. A spec with arguments is named for a
    folder: "composite:0.8,2,2.6" -> "composite_0.8_2_2.6".

    Raises:
        ConfigError: for no names, unknown ones, or specs with bad arguments (as `sampling.sampler`).
    """
    unknown = [name for name in names if sampler_name(name) not in FORMS and name.strip() not in ALIASES]
    if not names or unknown:
        raise ConfigError(
            f"Unknown generative.study_samplers {unknown or '(none)'}.",
            f"Choose from: {', '.join(sorted([*FORMS, *ALIASES]))}, with arguments as name:a,b,... .",
        )
    entries: dict[str, StudySampler] = {}
    for name in names:
        spec = parse_sampler_spec(name, key="generative.study_samplers")
        if spec.name == "gmm" and not spec.arguments:
            for k in gmm_sizes:
                entries[f"gmm_{k}"] = StudySampler(f"GMM {k}", "gmm", {"components": int(k)})
            continue
        if spec.name == "cgan" and not spec.values["variant"]:
            spec = parse_sampler_spec(f"cgan:{cgan_variant}")
        if spec.name == "gmm" and not spec.values["components"]:
            raise ConfigError(f"generative.study_samplers {name!r}: name the mixture's size, e.g. gmm:8.")
        folder = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip())
        label = STUDY_LABELS.get(spec.text) or sampler_label(spec)
        entries[folder] = StudySampler(label, spec.name, spec.options, STUDY_SCALES.get(spec.name, 1.0))
    return entries
