# One image for every service; docker-compose.yml picks the module to run.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /venv
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml ./
RUN mkdir -p skin storage analyzer gateway && touch skin/__init__.py storage/__init__.py \
        analyzer/__init__.py gateway/__init__.py \
    && /venv/bin/pip install --no-cache-dir . \
    && /venv/bin/pip uninstall -y skin-analysis
COPY skin ./skin
COPY storage ./storage
COPY analyzer ./analyzer
COPY gateway ./gateway
RUN /venv/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app app
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 DATA_DIR=/app/data
WORKDIR /app
USER app
CMD ["python", "-m", "storage"]
