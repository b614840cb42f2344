# The one image of a remote run: every Kubeflow component of the compiled
# pipeline runs in it (`headsynth compile --image`), and Beam workers run in it
# (Dataflow: --sdk_container_image; Flink/Spark: --environment_type=DOCKER
# --environment_config). It holds headsynth with the locked package set of the
# local set-up, the compiled rasteriser op, and the offline face weights.
#
#   docker build -t gcr.io/my-project/headsynth:0.1 .
#
# The locked set is verified on Python 3.11 (shared/DESIGN.md); it does not
# install on the Python 3.10 of the TFX image (scikit-image 0.26.0 ships no
# cp310 wheel), so the set goes into a Python 3.11 virtual environment that
# comes first on PATH: `python` is that environment for Kubeflow's
# `python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor`
# and for the Beam worker boot.
ARG BEAM_VERSION=2.59.0
ARG UV_VERSION=0.5.11
FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv
FROM apache/beam_python3.11_sdk:${BEAM_VERSION} AS beam

FROM tensorflow/tfx:1.16.0
ARG PYTHON_VERSION=3.11
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    UV_PYTHON_INSTALL_DIR=/opt/python \
    VIRTUAL_ENV=/opt/headsynth-venv \
    PATH=/opt/headsynth-venv/bin:$PATH

# g++ compiles tensorflow-graphics' rasteriser op against the installed TensorFlow.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ \
 && rm -rf /var/lib/apt/lists/*
COPY --from=uv /uv /usr/local/bin/uv
RUN uv python install ${PYTHON_VERSION} \
 && uv venv --seed --python ${PYTHON_VERSION} ${VIRTUAL_ENV} \
 && python -c "import sys; assert sys.prefix == '${VIRTUAL_ENV}', sys.prefix; print(sys.version)"

# The locked package set first (its own layer: code changes do not reinstall it).
WORKDIR /headsynth
COPY requirements/ requirements/
# tfx 1.16 declares Python <3.11 but runs on 3.11 (shared/DESIGN.md).
RUN python -m pip install --ignore-requires-python \
      -r requirements/stack.txt -r requirements/dev.txt -c requirements/stack.lock.txt \
 && python -m pip check

# The code, installed in editable mode at /headsynth (kubeflow_runner.IMAGE_SOURCE_DIR),
# the rasteriser op, and the offline face-recognition weights where deepface looks.
COPY . .
ENV HEADSYNTH_CACHE=/headsynth/.cache/headsynth \
    DEEPFACE_HOME=/headsynth/.cache/headsynth/deepface \
    TF_CPP_MIN_LOG_LEVEL=2
RUN python -m pip install --no-deps --no-build-isolation -e . \
 && python scripts/build_rasterizer.py \
 && W="$DEEPFACE_HOME/.deepface/weights" && mkdir -p "$W" \
 && M="$(python -c 'import face_recognition_models, os; print(os.path.dirname(face_recognition_models.__file__))')/models" \
 && ln -sf "$M"/*.dat "$W"/

# The fast test subset, at build time: a broken image fails here, not on the cluster.
RUN python -m pytest -q -p no:cacheprovider \
      tests/test_config.py tests/data_schemas tests/components/rendering \
      tests/pipeline/test_kubeflow.py tests/test_readme.py

# Beam's worker boot program, so Beam runners can start SDK workers in this image
# (with RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT it uses `python` above, no new venv).
COPY --from=beam /opt/apache/beam /opt/apache/beam
ENV RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT=1
# Kubeflow sets its own command; Beam runners start the image as it is.
# To run headsynth itself: docker run --entrypoint headsynth IMAGE run --preset ci
ENTRYPOINT ["/opt/apache/beam/boot"]
