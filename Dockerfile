# The project image: the pinned lock file, then the code. One image serves MLflow, Prefect,
# the scheduled deployments, the prediction API and the Spark master and worker
# (docker-compose.yml picks the command).
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

# Java 17 for PySpark (the Spark profile: the pipelines' driver, and the compose Spark master and
# worker, which run this image). Debian's headless runtime; `java` on PATH is how
# features.spark.session finds it. (Slim images lack the man folder the JRE's postinst links into.)
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*

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
