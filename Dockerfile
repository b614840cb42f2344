# The image for Kubeflow and Beam workers: TFX 1.16 with headsynth installed
# from the same locked package set as the local setup.
FROM tensorflow/tfx:1.16.0

WORKDIR /headsynth
COPY requirements/ requirements/
RUN pip install --no-cache-dir --ignore-requires-python \
      -r requirements/stack.txt -r requirements/dev.txt -c requirements/stack.lock.txt
COPY . .
RUN pip install --no-cache-dir --no-deps -e . \
 && python scripts/build_rasterizer.py \
 && HEADSYNTH_VENV=/usr/local HEADSYNTH_CACHE=/headsynth/.cache/headsynth \
      bash -c 'W=$HEADSYNTH_CACHE/deepface/.deepface/weights; mkdir -p $W; \
               M=$(python -c "import face_recognition_models,os;print(os.path.dirname(face_recognition_models.__file__))")/models; \
               ln -sf $M/*.dat $W/'
ENV HEADSYNTH_CACHE=/headsynth/.cache/headsynth \
    DEEPFACE_HOME=/headsynth/.cache/headsynth/deepface \
    TF_CPP_MIN_LOG_LEVEL=2
# The fast test subset, at build time.
RUN python -m pytest -q -m "not slow" tests/test_config.py tests/data_schemas tests/components/rendering
ENTRYPOINT ["headsynth"]
