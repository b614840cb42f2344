"""The configuration tree: one frozen dataclass per section, `HeadsynthConfig` on top.

Every default is written here once; presets (`presets.py`) replace some of
them, `--set` overrides (`overrides.py`) replace others. Names of registered
things (scenarios, samplers, backbones, ...) are plain strings here: each
registry checks its own names when looked up (`headsynth.wiring.check_names`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from headsynth.core.errors import ConfigError


@dataclass(frozen=True)
class FaceModelConfig:
    """Which morphable model to use and how many components of it.

    Attributes:
        source: "builtin", or a path to a `.npz` or Basel Face Model 2017 `.h5`.
        shape_components: keep the first k shape components (0 keeps all).
        texture_components: keep the first k texture components (0 keeps all).
    """

    source: str = "builtin"
    shape_components: int = 0
    texture_components: int = 0


@dataclass(frozen=True)
class SamplingConfig:
    """How parameter vectors are drawn.

    Attributes:
        sampler: a sampler spec `name[:a,b,...]`: a registered sampler and
            its parameters, e.g. "naive_uniform:3.5", "composite:0.8,2,2.6"
            (see `components/sampling/specs.py` and the README's samplers table).
        scale: p = scale * sigma * q; the paper uses 1.6.
        num_train: training examples to render.
        num_eval: held-out examples to render.
        seed: root seed; every example's randomness derives from (seed, index).
        renders_per_identity: training examples per drawn vector: each is
            rendered this many times in a row, each time in its own scene (the
            thesis: 10,000 identities x 10 renders); held-out vectors are
            rendered once each.
    """

    sampler: str = "paper_uniform"
    scale: float = 1.6
    num_train: int = 2000
    num_eval: int = 400
    seed: int = 0
    renders_per_identity: int = 1


@dataclass(frozen=True)
class RenderConfig:
    """How examples are rendered.

    Attributes:
        scenario: training scenario, one of `rendering.scenarios.SCENARIOS`.
        eval_scenario: scenario of the held-out split; empty means the same.
        image_size: square image side in pixels (the paper: 224).
        batch_size: meshes rasterised per call.
        num_shards: TFRecord shards per split (does not change the bytes of
            any example, only how they are grouped in files).
        image_format: "png" (lossless) or "jpeg".
        beam_args: Beam pipeline options passed through unchanged.
        backgrounds: "builtin" (scikit-image's photographs) or a folder of
            photographs, for scenarios with photo backgrounds.
        antialias: supersampling factor (1 = off, 2 = 4 samples per pixel).
        store_mask: store each example's head mask (PNG).
        store_depth: store each example's depth map (16-bit PNG, mm).
        store_landmarks: store each example's projected 2D landmarks.
        framing: "full" (the whole render, as the paper) or "face" (each
            render cropped around its face by the face detector, the square
            of its box enlarged 1.5 times, as photos are cropped for the
            network; `components/rendering/framing.py`).
        render_size: with framing "face", the side rendered before the crop
            (0: 1.5 x image_size, so a typical face crop keeps its detail).
    """

    scenario: str = "angle"
    eval_scenario: str = ""
    image_size: int = 64
    batch_size: int = 32
    num_shards: int = 2
    image_format: str = "png"
    beam_args: tuple[str, ...] = ("--direct_running_mode=in_memory", "--direct_num_workers=1")
    backgrounds: str = "builtin"
    antialias: int = 1
    store_mask: bool = False
    store_depth: bool = False
    store_landmarks: bool = True
    framing: str = "full"
    render_size: int = 0


@dataclass(frozen=True)
class TrainingConfig:
    """The regressor and its optimisation.

    Attributes:
        backbone: name in `models.backbones.BACKBONES`.
        head: "linear" (the paper's single dense layer) or "mlp" (the thesis's).
        optimizer: "sgd" (momentum, Caffe "inv" decay) or "adam".
        base_learning_rate: Caffe base_lr.
        lr_gamma: Caffe "inv" gamma.
        lr_power: Caffe "inv" power.
        momentum: SGD momentum.
        batch_size: examples per step.
        train_steps: optimisation steps.
        eval_steps: validation steps run at the end of training.
        steps_per_epoch: steps between validation and checkpoint passes.
        seed: seed for weight init and shuffling.
        stem_weights: the backbone's initial weights: "" (random), "imagenet"
            (through Keras, for backbones Keras ships: resnet50), or a file
            path (`.weights.h5`, a legacy Keras `.h5` read by layer name, or a
            torchvision state dict as `.npz`; see `models/pretrained.py`).
        stem_mode: "trained" (the whole network trains), "frozen" (only the
            head trains; the thesis), or "from_block" (the stem trains from
            block `stem_train_from_block` on).
        stem_train_from_block: first trained block with stem_mode
            "from_block"; block 0 is the input stem (conv1), 1 the first
            residual block (conv2_block1) or stage.
        cache_stem_features: with a frozen stem, compute its features once
            per example and train the head on the cached features.
        distribution: tf.distribute strategy: "default" (none), "mirrored"
            (all local GPUs) or "one_device" (the first GPU, else the CPU).
        log_renders: eval examples whose input, predicted and true renders
            go to TensorBoard at the end of training (0: none).
        deterministic: enable TensorFlow's op determinism, so a rerun with the
            same seed gives identical weights (CPU; slower on GPU).
        input_mean: what is subtracted from each input when the stem's
            weights do not fix it: "image" (the per-pixel mean image of the
            training set, as the paper subtracts ResNet-50's mean image) or
            "channel" (its per-channel mean).
        output_scale: factor on the head's output, recorded in the model (its
            predictions, and the SavedModel's, are in q's units): the "mlp"
            head's tanh reaches (-output_scale, output_scale). 0: derived from
            `sampling.sampler`, the half-width its q lie in (a uniform's limit,
            `output_scale_stds` standard deviations of a normal) for the "mlp"
            head, 1 for the "linear" head.
        output_scale_stds: standard deviations of a normal sampler that a
            derived output_scale reaches.
    """

    backbone: str = "small_cnn"
    head: str = "linear"
    optimizer: str = "adam"
    base_learning_rate: float = 1e-3
    lr_gamma: float = 1e-4
    lr_power: float = 0.75
    momentum: float = 0.9
    batch_size: int = 32
    train_steps: int = 1500
    eval_steps: int = 10
    steps_per_epoch: int = 250
    seed: int = 0
    stem_weights: str = ""
    stem_mode: str = "trained"
    stem_train_from_block: int = 1
    cache_stem_features: bool = False
    distribution: str = "default"
    log_renders: int = 4
    deterministic: bool = False
    input_mean: str = "image"
    output_scale: float = 0.0
    output_scale_stds: float = 3.0


@dataclass(frozen=True)
class PipelineConfig:
    """How the TFX pipeline is run.

    Attributes:
        name: pipeline name in ML Metadata.
        enable_cache: reuse outputs of unchanged components.
        model_name: directory name the Pusher serves the model under.
        pipeline_root: where the artifacts go: for a remote run (`headsynth
            compile --target kubeflow`) a URI every pod can reach
            (gs://bucket/headsynth) or an absolute path on a volume they all
            mount; a local run (`headsynth run`) writes its artifacts there
            too and keeps ML Metadata under `--out`. The Pusher serves to
            `<pipeline_root>/serving/<model_name>`. Empty: local runs write
            everything under `--out`; a remote target refuses it.
    """

    name: str = "headsynth"
    enable_cache: bool = True
    model_name: str = "headsynth"
    pipeline_root: str = ""


@dataclass(frozen=True)
class EvaluationConfig:
    """Evaluation figures, the identity score, and the variability study.

    Attributes:
        saliency_examples: inputs shown with their saliency map and the renders
            of prediction and truth (the paper's Fig. 9); 0 leaves the figure out.
        moving_average_window: examples per window of the error-vs-yaw moving
            average (the paper's Fig. 8); 0 uses a tenth of the examples.
        identity_backend: face-recognition model of the identity score: "dlib"
            (offline default), "vgg-face", "arcface", "facenet512" (deepface,
            weights must be present), "deepface-dlib", or "none".
        identity_examples: test examples scored per network (0: no identity score).
        identity_reference: what the frontal rendering of a prediction is
            compared with: "truth" (a frontal rendering of the true q, so every
            example has a face to compare, whatever its pose and size) or
            "input" (the input image itself, as the thesis does with photos;
            inputs without a detectable face count as failures).
        identity_image_size: side of the renderings the identity score compares.
        corrected_score_n: n of the thesis's corrected score (its Eq. 6.2).
        real_photos: real photographs the step reconstructs and scores with
            dlib (`headsynth evaluate-photos`): "packaged" (the photos that
            ship in the installed packages, offline), a folder of photos, or
            "" to skip.
        study_scenarios: the training and test scenarios of `headsynth study variability`.
        study_num_test: test examples per scenario in the study (0: sampling.num_eval).
        focus_scenario: the study's test scenario for the saliency figure and the
            identity score (the paper shows its figures on *all*).
    """

    saliency_examples: int = 4
    moving_average_window: int = 0
    identity_backend: str = "dlib"
    identity_examples: int = 32
    identity_reference: str = "truth"
    identity_image_size: int = 160
    corrected_score_n: float = 30.0
    real_photos: str = "packaged"
    study_scenarios: tuple[str, ...] = ("none", "angle", "angle_bg", "all")
    study_num_test: int = 0
    focus_scenario: str = "all"


@dataclass(frozen=True)
class VariabilityConfig:
    """The variability study's own data and networks (`headsynth study variability`, the paper's experiment).

    The study keeps its own settings so that it trains the paper's end-to-end
    full-image CNN whatever network the main job trains. Zero or empty values
    take the main sections' (`sampling`, `rendering`, `training`).

    Attributes:
        num_train: training examples rendered per scenario (the paper: ~200,000).
        image_size: input side in pixels.
        backbone: the networks' backbone, always trained end to end from the
            image (the paper's network; the main job may freeze or cache its
            stem, the study does not). Pretrained weights (`training.stem_weights`)
            are used only when it is the training section's backbone.
        head: the networks' head: "linear" (the paper's one fully connected
            layer) or "mlp"; empty takes `training.head`.
        base_learning_rate: the networks' learning rate (0: `training.base_learning_rate`).
        train_steps: optimisation steps per network.
        batch_size: examples per step.
        steps_per_epoch: steps between the inference-mode error measurements
            of the learning curves.
        seeds: networks trained per scenario, with training seeds
            `training.seed + 0 .. seeds - 1`; every CI is over seeds and images.
        saliency_share_examples: test examples of the focus scenario whose
            share of saliency inside the head mask is measured per network
            (the Fig. 9 finding; 0: not measured).
        bootstrap: resamples of the two-way (seeds x images) bootstrap behind
            every CI and finding.
        factor_probes: also test every network on the studied scenario
            closest to the focus one with one kind of the focus scenario's
            variability added at a time (`study/variability_probes.py`): which
            unseen factor makes which network worse than naive.
    """

    num_train: int = 0
    image_size: int = 0
    backbone: str = ""
    head: str = "linear"
    base_learning_rate: float = 0.0
    train_steps: int = 0
    batch_size: int = 0
    steps_per_epoch: int = 0
    seeds: int = 1
    saliency_share_examples: int = 64
    bootstrap: int = 2000
    factor_probes: bool = True


@dataclass(frozen=True)
class GenerativeConfig:
    """Generative models of realistic parameter vectors (FitGenerativeModel), and the samplers study.

    Every model is fitted to q in units of sigma (p = sigma * q); the "gmm" and
    "cgan" samplers return q for rendering at `sampling.scale`.

    Attributes:
        source: where the realistic vectors come from: "heldout_population"
            (a synthetic population unlike the built-in model's own: older,
            bimodal in sex, another skin-tone mix, with age and sex; see
            `components/generative/heldout.py`), "population" (the labelled
            identities the built-in model was built from: N(0, I) in q),
            "photos" (a trained regressor's predictions on photographs), or a
            parameter file (.npz/.npy/.csv; optional age and sex labels).
        heldout_size: identities of the "heldout_population" source (drawn
            from `seed`).
        source_scale: the scale the file's q were written at (p = source_scale
            * sigma * q): 1 for sigma units, 1.6 for the paper's q.
        photos_model: with source=photos, the regressor: a run, study-net or
            SavedModel folder.
        photos: with source=photos, image files, folders or globs.
        photos_labels: with source=photos, an optional CSV `photo,age,sex`.
        gmm_components: component counts of the fitted mixtures (Table 5.4).
        gmm_covariance_types: scikit-learn covariance types fitted.
        gmm_selection: the mixture the "gmm" sampler uses: "bic", "aic", or a
            fitted component count.
        gmm_reg_covar: added to the covariance diagonals (sigma units squared).
        cgan_variants: conditional GANs trained: cvgan1, cvgan2 (Tables 5.2/5.3).
        cgan_steps: training steps per GAN.
        cgan_batch_size: vectors per GAN step.
        cgan_learning_rate: Adam's learning rate for the GAN's G and D.
        gan_ages: ages the "cgan" sampler draws at (empty: the training labels').
        gan_sexes: sexes it draws (0 female, 1 male; empty: the training labels').
        seed: seed of the fits.
        study_samplers: the samplers `headsynth study samplers` compares:
            sampler specs `name[:a,b,...]` (as `sampling.sampler`; cvgan1 and
            cvgan2 stand for cgan:cvgan1 and cgan:cvgan2; "gmm" without a size
            trains one network per size in `study_gmm_components`). With
            `--set`, a comma followed by a number continues the spec before it:
            "naive_uniform:3.5,composite:0.8,2,2.6" is two specs.
        study_gmm_components: the mixture sizes the study trains on.
        study_num_train: training examples per sampler (0: sampling.num_train).
        study_train_steps: steps per network (0: training.train_steps).
        study_backbone: the networks' backbone ("": training.backbone). A
            backbone other than the main job's is trained whole, uncached.
        study_image_size: the study's image side (0: rendering.image_size).
        study_test_identities: realistic identities held out of the fits and
            rendered as the shared test set.
        study_renders_per_identity: renders of each test identity (poses, light).
        study_seeds: networks trained per sampler, with training seeds
            `training.seed + 0 .. study_seeds - 1`; every CI is over seeds and images.
        study_bootstrap: resamples of the two-way (seeds x images) bootstrap
            behind the study's CIs and findings.
        study_identity_reference: what the study's predictions are compared with by face
            recognition: "input" (the test render the network saw, the thesis's protocol)
            or "truth" (a frontal render of the true q).
        study_real_photos: also reconstruct the packaged real photographs with every network
            and score them against the photos (`evaluate-photos`' measures, per seed).
    """

    source: str = "heldout_population"
    heldout_size: int = 2000
    source_scale: float = 1.0
    photos_model: str = ""
    photos: tuple[str, ...] = ()
    photos_labels: str = ""
    gmm_components: tuple[int, ...] = (1, 2, 4, 8, 16)
    gmm_covariance_types: tuple[str, ...] = ("full",)
    gmm_selection: str = "bic"
    gmm_reg_covar: float = 1e-3
    cgan_variants: tuple[str, ...] = ("cvgan2",)
    cgan_steps: int = 2000
    cgan_batch_size: int = 64
    cgan_learning_rate: float = 2e-4
    gan_ages: tuple[float, ...] = ()
    gan_sexes: tuple[float, ...] = ()
    seed: int = 0
    study_samplers: tuple[str, ...] = (
        "paper_uniform",
        "naive_uniform",
        "naive_normal",
        "composite",
        "meta_normal",
        "gmm",
        "cvgan2",
    )
    study_gmm_components: tuple[int, ...] = (1, 8)
    study_num_train: int = 0
    study_train_steps: int = 0
    study_backbone: str = ""
    study_image_size: int = 0
    study_test_identities: int = 100
    study_renders_per_identity: int = 2
    study_seeds: int = 1
    study_bootstrap: int = 2000
    study_identity_reference: str = "input"
    study_real_photos: bool = True

    def __post_init__(self) -> None:
        # `--set` gives tuple fields as strings: make the numbers numbers.
        for name, kind in (
            ("gmm_components", int),
            ("study_gmm_components", int),
            ("gan_ages", float),
            ("gan_sexes", float),
        ):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, tuple(kind(v) for v in value))
            except (TypeError, ValueError):
                raise ConfigError(
                    f"generative.{name} must be comma-separated {kind.__name__}s. Received: {value!r}."
                ) from None


@dataclass(frozen=True)
class HeadsynthConfig:
    """The whole configuration of one run."""

    preset: str = "quickstart"
    face_model: FaceModelConfig = field(default_factory=FaceModelConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    rendering: RenderConfig = field(default_factory=RenderConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    variability: VariabilityConfig = field(default_factory=VariabilityConfig)
    generative: GenerativeConfig = field(default_factory=GenerativeConfig)

    def to_dict(self) -> dict[str, Any]:
        """Returns the configuration as nested plain dicts (JSON-ready)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Returns a stable JSON encoding (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2)
