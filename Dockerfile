# The project image: the pinned lock file, then the code. One image serves MLflow, Prefect,
# the scheduled deployments and the prediction API (docker-compose.yml picks the command).
FROM python:3.11.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    FTI_PROJECT_DIR=/app \
    FTI_STATE_DIR=/app/.state \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    GX_ANALYTICS_ENABLED=false

WORKDIR /app
COPY requirements.lock ./
RUN pip install uv==0.13.8 && uv pip sync --system requirements.lock
COPY . .
RUN uv pip install --system --no-deps . \
    && useradd --uid 10001 --create-home fti \
    && mkdir -p /app/.state /mlflow \
    && chown -R fti /app/.state /mlflow
USER fti
CMD ["fti", "--help"]
