# One image for every service; docker-compose.yml picks the module to run.
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
# Dependencies first, so code changes do not reinstall them. uv applies the overrides that let
# mediapipe's FaceMesh sit beside the grpc family (see dependency-overrides.txt).
COPY pyproject.toml dependency-overrides.txt ./
RUN mkdir -p skin storage analyzer gateway \
    && touch skin/__init__.py storage/__init__.py analyzer/__init__.py gateway/__init__.py \
    && uv venv /venv \
    && uv pip install --python /venv/bin/python --override dependency-overrides.txt . \
    && uv pip uninstall --python /venv/bin/python skin-analysis
COPY skin ./skin
COPY storage ./storage
COPY analyzer ./analyzer
COPY gateway ./gateway
RUN uv pip install --python /venv/bin/python --no-deps .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app app
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 DATA_DIR=/app/data
WORKDIR /app
USER app
CMD ["python", "-m", "storage"]
