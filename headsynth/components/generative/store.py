"""The fitted generative model artifact: GMMs and conditional GANs of realistic parameter vectors.

Layout of the folder (the `GenerativeModel` artifact's uri):

    generative_model.json     what was fitted, the AIC/BIC table, the selected GMM, CGAN summaries
    realistic.npz             the vectors fitted to (q in sigma units) with their age/sex labels
    gmm/gmm_<K>_<type>.npz    every fitted mixture (see `gmm.py`)
    cgan/<variant>.keras      every trained GAN (see `headsynth/models/cgan.py`)
    aic_bic.png               AIC and BIC against the number of components (the thesis's Table 5.4)
    gmm_pca.png               the data and samples of each mixture in the data's first 2 principal
                              components (the thesis's Fig. 5.6)

Units: every model is fitted to q in units of sigma (p = 1 * sigma * q);
`units_scale` in the index records it, and `sample_*` take `target_scale`
to return q for another scale (q_target = q_sigma / target_scale), e.g. 1.6
for the paper's rendering scale.

    fitted = fit_generative_model(realistic, "out/", GenerativeSettings())
    model = FittedGenerativeModel.load("out/")
    q = model.sample_gmm(np.random.default_rng(0), 1000, target_scale=1.6)
    q, ages, sexes = model.sample_cgan(rng, 1000, ages=[30, 60], sexes=[0, 1])
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import tensorflow as tf

from headsynth.components.diversity.plots import plot_aic_bic, plot_gmm_pca
from headsynth.components.generative import cgan as cgan_lib
from headsynth.components.generative import gmm as gmm_lib
from headsynth.components.generative.sources import RealisticVectors
from headsynth.config import GenerativeConfig
from headsynth.core.errors import ConfigError, ParameterError
from headsynth.core.io_utils import read_json, write_text_atomic
from headsynth.core.progress import report
from headsynth.data_schemas.parameter_files import load_labelled_parameter_file, save_parameter_file
from headsynth.models.cgan import CGAN_PRESETS

INDEX_FILE = "generative_model.json"
REALISTIC_FILE = "realistic.npz"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class GenerativeSettings:
    """What `fit_generative_model` fits (the `generative` config section's fitting fields).

    Attributes:
        gmm_components: component counts of the candidate mixtures.
        gmm_covariance_types: covariance types of the candidates.
        gmm_selection: "bic", "aic" or a component count: the mixture the "gmm" sampler uses by default.
        gmm_reg_covar: added to covariance diagonals (sigma units squared).
        cgan_variants: "cvgan1" and/or "cvgan2" (empty: no GAN).
        cgan_steps: training steps per GAN.
        cgan_batch_size: vectors per step.
        cgan_learning_rate: Adam's learning rate (beta_1 0.5) for G and D.
        seed: seed of EM initialisation and GAN training.
    """

    gmm_components: tuple[int, ...] = GenerativeConfig.gmm_components
    gmm_covariance_types: tuple[str, ...] = GenerativeConfig.gmm_covariance_types
    gmm_selection: str = GenerativeConfig.gmm_selection
    gmm_reg_covar: float = GenerativeConfig.gmm_reg_covar
    cgan_variants: tuple[str, ...] = GenerativeConfig.cgan_variants
    cgan_steps: int = GenerativeConfig.cgan_steps
    cgan_batch_size: int = GenerativeConfig.cgan_batch_size
    cgan_learning_rate: float = GenerativeConfig.cgan_learning_rate
    seed: int = GenerativeConfig.seed

    def check(self) -> None:
        """Raises ConfigError for settings that cannot work, before any data is read."""
        gmm_lib.check_gmm_request(
            max(self.gmm_components or (1,)), self.gmm_components, self.gmm_covariance_types
        )
        if self.gmm_selection not in gmm_lib.SELECTION_RULES:
            try:
                count = int(self.gmm_selection)
            except ValueError:
                raise ConfigError(
                    f"Unknown GMM selection rule {self.gmm_selection!r}.",
                    "Use bic, aic or a component count.",
                ) from None
            if count not in self.gmm_components:
                raise ConfigError(
                    f"GMM selection {self.gmm_selection!r} is not one of the fitted component counts "
                    f"{list(self.gmm_components)}."
                )
        unknown = [v for v in self.cgan_variants if v not in CGAN_PRESETS]
        if unknown:
            raise ConfigError(
                f"Unknown CGAN variant(s) {unknown}.", f"Choose from: {', '.join(CGAN_PRESETS)}."
            )
        if self.cgan_steps < 1 or self.cgan_batch_size < 1 or self.cgan_learning_rate <= 0:
            raise ConfigError("CGAN steps, batch size and learning rate must be positive.")


def fit_generative_model(
    realistic: RealisticVectors, out_dir: str, settings: GenerativeSettings, figures: bool = True
) -> dict:
    """Fits every GMM candidate and CGAN variant to the vectors and writes the artifact folder.

    Returns:
        The index (also `generative_model.json`).

    Raises:
        ConfigError: for bad settings.
        ParameterError: for too few vectors for the mixtures, or missing/bad labels for a GAN.
    """
    settings.check()
    q = checked_vectors(realistic)
    tf.io.gfile.makedirs(os.path.join(out_dir, "gmm"))
    save_parameter_file(os.path.join(out_dir, REALISTIC_FILE), q, **realistic.labels)
    fits, gmm_section = fit_gmm_candidates(q, out_dir, settings, realistic.source or "the realistic vectors")
    cgans = train_cgans(q, realistic, out_dir, settings)
    index = {
        "format": FORMAT_VERSION,
        "num_parameters": int(q.shape[1]),
        "num_vectors": int(len(q)),
        "units_scale": 1.0,
        "source": realistic.source,
        "notes": list(realistic.notes),
        "labels": sorted(realistic.labels),
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()},
        "gmm": gmm_section,
        "cgan": {"variants": cgans, "default": settings.cgan_variants[0] if settings.cgan_variants else ""},
    }
    if figures:
        write_fit_figures(q, fits, gmm_section["candidates"], out_dir, settings.seed)
    write_text_atomic(os.path.join(out_dir, INDEX_FILE), json.dumps(index, indent=2))
    return index


def checked_vectors(realistic: RealisticVectors) -> np.ndarray:
    """`[n, m]` float32 q of the realistic vectors.

    Raises:
        ParameterError: unless they are at least 2 finite vectors.
    """
    q = np.asarray(realistic.q, np.float32)
    if q.ndim != 2 or len(q) < 2 or not np.all(np.isfinite(q)):
        raise ParameterError(
            f"{realistic.source or 'The realistic vectors'} must be at least 2 finite vectors; "
            f"received shape {list(q.shape)}."
        )
    return q


def fit_gmm_candidates(
    q: np.ndarray, out_dir: str, settings: GenerativeSettings, source: str
) -> tuple[list[gmm_lib.GmmFit], dict]:
    """Fits and saves every candidate mixture under `out_dir/gmm`.

    Returns:
        (the fits, the index's "gmm" section: rule, selected mixture, candidates, seconds).
    """
    started = time.monotonic()
    fits = gmm_lib.fit_gmms(
        q,
        settings.gmm_components,
        settings.gmm_covariance_types,
        seed=settings.seed,
        reg_covar=settings.gmm_reg_covar,
        source=source,
    )
    selected = gmm_lib.select_gmm(fits, settings.gmm_selection)
    for fit in fits:
        gmm_lib.save_gmm(os.path.join(out_dir, "gmm", fit.name + ".npz"), fit.mixture)
    gmm_seconds = time.monotonic() - started
    report(
        "FitGenerativeModel",
        f"{len(fits)} GMMs on {len(q)} vectors in {gmm_seconds:.1f} s; selected {selected.name} by "
        f"{settings.gmm_selection}",
    )
    return fits, {
        "selection_rule": settings.gmm_selection,
        "selected": {"components": selected.components, "covariance_type": selected.covariance_type},
        "candidates": [{**fit.row(), "file": f"gmm/{fit.name}.npz"} for fit in fits],
        "seconds": gmm_seconds,
    }


def train_cgans(
    q: np.ndarray, realistic: RealisticVectors, out_dir: str, settings: GenerativeSettings
) -> dict[str, dict]:
    """Trains and saves every CGAN variant under `out_dir/cgan`; returns variant -> summary."""
    cgans = {}
    if not settings.cgan_variants:
        return cgans
    tf.io.gfile.makedirs(os.path.join(out_dir, "cgan"))
    source = realistic.source or "the vectors"
    ages, sexes = cgan_lib.check_labels(
        realistic.labels.get("age"), realistic.labels.get("sex"), len(q), source
    )
    for variant in settings.cgan_variants:
        gan, summary = cgan_lib.train_cgan(
            q,
            ages,
            sexes,
            variant,
            settings.cgan_steps,
            settings.cgan_batch_size,
            settings.cgan_learning_rate,
            settings.seed,
            source=source,
        )
        cgan_lib.save_cgan(gan, os.path.join(out_dir, "cgan", f"{variant}.keras"))
        cgans[variant] = {**summary, "file": f"cgan/{variant}.keras"}
        report(
            "FitGenerativeModel",
            f"{variant}: {settings.cgan_steps} steps in {summary['seconds']:.0f} s, final D loss "
            f"{summary['d_loss'][-1]:.3f}, G loss {summary['g_loss'][-1]:.3f}",
        )
    return cgans


def write_fit_figures(
    q: np.ndarray, fits: list[gmm_lib.GmmFit], candidates: list[dict], out_dir: str, seed: int
) -> None:
    """aic_bic.png and gmm_pca.png (up to 2000 samples of each mixture beside the data)."""
    plot_aic_bic(candidates, os.path.join(out_dir, "aic_bic.png"))
    samples = {
        f"GMM {fit.components} ({fit.covariance_type})": gmm_lib.sample_gmm(
            fit.mixture, np.random.default_rng([seed, i]), min(len(q), 2000)
        )
        for i, fit in enumerate(fits)
    }
    plot_gmm_pca(q, samples, os.path.join(out_dir, "gmm_pca.png"))


class FittedGenerativeModel:
    """A fitted artifact folder, read lazily: `sample_gmm`, `sample_cgan`, `realistic`.

    Args:
        folder: the folder `fit_generative_model` wrote.
        index: its `generative_model.json`.
    """

    def __init__(self, folder: str, index: dict) -> None:
        self.folder = folder
        self.index = index
        self._gans: dict[str, object] = {}

    @classmethod
    def load(cls, folder: str) -> FittedGenerativeModel:
        """Raises ParameterError if `folder` holds no fitted model."""
        path = os.path.join(folder, INDEX_FILE)
        if not folder or not tf.io.gfile.exists(path) or tf.io.gfile.isdir(path):
            raise ParameterError(
                f"No fitted generative model in {folder or '(no folder given)'} ({INDEX_FILE} is missing).",
                "Run FitGenerativeModel first (the pipeline does when sampling.sampler is gmm or cgan).",
            )
        index = read_json(path)
        if index.get("format") != FORMAT_VERSION:
            raise ParameterError(f"{path} has format {index.get('format')}; expected {FORMAT_VERSION}.")
        return cls(folder, index)

    @property
    def num_parameters(self) -> int:
        return int(self.index["num_parameters"])

    def check_width(self, width: int) -> None:
        if width != self.num_parameters:
            raise ParameterError(
                f"The generative model in {self.folder} makes vectors of width {self.num_parameters}; "
                f"width {width} was asked for.",
                "Fit it to vectors of the same face model and component counts.",
            )

    def realistic(self) -> RealisticVectors:
        """The vectors the models were fitted to (sigma units) and their labels."""
        q, labels = load_labelled_parameter_file(os.path.join(self.folder, REALISTIC_FILE))
        return RealisticVectors(q, labels, self.index.get("source", ""))

    def gmm_candidates(self) -> list[dict]:
        return list(self.index["gmm"]["candidates"])

    def gmm(self, components: int = 0, covariance_type: str = "") -> gmm_lib.GaussianMixtureParameters:
        """A fitted mixture: the selected one, or the one with `components` (and `covariance_type`).

        Raises:
            ConfigError: if no such mixture was fitted.
        """
        selected = self.index["gmm"]["selected"]
        components = int(components) or int(selected["components"])
        covariance_type = covariance_type or (
            selected["covariance_type"] if components == selected["components"] else ""
        )
        matching = [
            c
            for c in self.gmm_candidates()
            if c["components"] == components
            and (not covariance_type or c["covariance_type"] == covariance_type)
        ]
        if not matching:
            fitted = sorted({(c["components"], c["covariance_type"]) for c in self.gmm_candidates()})
            raise ConfigError(
                f"No GMM with {components} components{f' ({covariance_type})' if covariance_type else ''} "
                f"was fitted in {self.folder}.",
                f"Fitted: {', '.join(f'{k} {t}' for k, t in fitted)}.",
            )
        best = min(matching, key=lambda c: c["bic"])
        return gmm_lib.load_gmm(os.path.join(self.folder, best["file"]))

    def cgan(self, variant: str = ""):
        """A trained GAN (the first fitted variant by default), loaded once.

        Raises:
            ConfigError: if the variant was not trained.
        """
        variants = self.index["cgan"]["variants"]
        variant = variant or self.index["cgan"]["default"]
        if variant not in variants:
            raise ConfigError(
                f"No CGAN {variant or '(none)'!r} was trained in {self.folder}.",
                f"Trained: {', '.join(variants) or 'none'}; set generative.cgan_variants.",
            )
        if variant not in self._gans:
            self._gans[variant] = cgan_lib.load_cgan(os.path.join(self.folder, variants[variant]["file"]))
        return self._gans[variant]

    def sample_gmm(
        self,
        rng: np.random.Generator,
        count: int,
        components: int = 0,
        covariance_type: str = "",
        target_scale: float = 1.0,
    ) -> np.ndarray:
        """`[count, m]` q for rendering at `target_scale` (sigma units at 1)."""
        return gmm_lib.sample_gmm(self.gmm(components, covariance_type), rng, count) / target_scale

    def sample_cgan(
        self,
        rng: np.random.Generator,
        count: int,
        variant: str = "",
        ages=(),
        sexes=(),
        target_scale: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(`[count, m]` q at `target_scale`, ages, sexes); labels as in `cgan.sample_labels`,
        drawn from the training labels where not given."""
        gan = self.cgan(variant)
        realistic = self.realistic()
        pool = None
        if "age" in realistic.labels and "sex" in realistic.labels:
            low, high = gan.age_range
            inside = (realistic.labels["age"] >= low) & (realistic.labels["age"] <= high)
            pool = (realistic.labels["age"][inside], realistic.labels["sex"][inside])
        q, sample_ages, sample_sexes = cgan_lib.sample_cgan(gan, rng, count, ages, sexes, pool)
        return q / target_scale, sample_ages, sample_sexes
