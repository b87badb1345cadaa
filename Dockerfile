# One Dockerfile, one image per service: `docker build --target storage|analyzer|gateway .`
# (docker-compose.yml and deploy/kubernetes/ name them). Each image carries only its service's
# libraries (pyproject.toml extras): MediaPipe and OpenCV live in the analyzer's alone.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: one virtual environment per service ---------------------------------------------
FROM ${PYTHON_IMAGE} AS build-base
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
# Dependencies before code, so a code change does not reinstall them: the packages are stubs
# for that step. uv applies the overrides that let MediaPipe sit beside the grpc family
# (dependency-overrides.txt).
COPY pyproject.toml dependency-overrides.txt ./
RUN mkdir -p skin storage analyzer gateway \
    && touch skin/__init__.py storage/__init__.py analyzer/__init__.py gateway/__init__.py

FROM scratch AS source
COPY skin /src/skin
COPY storage /src/storage
COPY analyzer /src/analyzer
COPY gateway /src/gateway

FROM build-base AS build-storage
RUN uv venv /venv && uv pip install --no-cache --python /venv/bin/python \
        --override dependency-overrides.txt ".[storage]" \
    && uv pip uninstall --python /venv/bin/python skin-analysis
COPY --from=source /src /src
RUN uv pip install --no-cache --python /venv/bin/python --no-deps . \
    && /venv/bin/python -m compileall -q /venv

FROM build-base AS build-analyzer
RUN uv venv /venv && uv pip install --no-cache --python /venv/bin/python \
        --override dependency-overrides.txt ".[analyzer]" \
    && uv pip uninstall --python /venv/bin/python skin-analysis
COPY --from=source /src /src
RUN uv pip install --no-cache --python /venv/bin/python --no-deps . \
    && /venv/bin/python -m compileall -q /venv

FROM build-base AS build-gateway
RUN uv venv /venv && uv pip install --no-cache --python /venv/bin/python \
        --override dependency-overrides.txt ".[gateway]" \
    && uv pip uninstall --python /venv/bin/python skin-analysis
COPY --from=source /src /src
RUN uv pip install --no-cache --python /venv/bin/python --no-deps . \
    && /venv/bin/python -m compileall -q /venv

# --- runtime: non-root, nothing writable but /tmp and /data ----------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home app \
    && install -d -o app -g app -m 0700 /data
# The root filesystem can be mounted read-only: bytecode is compiled at build time, and the
# only writes go to /data (local-mode state) and /tmp (matplotlib's cache, imported by
# MediaPipe).
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/data \
    DATA_DIR=/data \
    MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /data
USER 10001:10001

FROM runtime AS storage
COPY --from=build-storage /venv /venv
ENV STORAGE_HOST=0.0.0.0 STORAGE_PORT=50051
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "skin.grpc_health_probe", "127.0.0.1:50051"]
CMD ["python", "-m", "storage"]

FROM runtime AS analyzer
COPY --from=build-analyzer /venv /venv
ENV ANALYZER_HOST=0.0.0.0 ANALYZER_PORT=50052
EXPOSE 50052
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "skin.grpc_health_probe", "127.0.0.1:50052"]
CMD ["python", "-m", "analyzer"]

FROM runtime AS gateway
COPY --from=build-gateway /venv /venv
ENV GATEWAY_HOST=0.0.0.0 GATEWAY_PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=3)"]
CMD ["python", "-m", "gateway"]
