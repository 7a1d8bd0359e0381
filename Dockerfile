# A pinned base image: rebuilding months later gives the same Python. Bump the tag deliberately.
FROM python:3.11.9-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin mjbot \
    && mkdir -p /data /config && chown mjbot /data

USER mjbot
# The database lives on the /data volume: the default storage.database ("mjbot.sqlite3") is relative to this folder.
WORKDIR /data
VOLUME ["/data"]
# Healthy: the database opens and takes a write, and the bot's heartbeat (written every 30 s while it is connected to
# Discord) is less than 2 minutes old. `docker inspect --format '{{.State.Health.Status}}' mjbot` shows the result.
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 \
    CMD ["mjbot", "health", "--config", "/config/config.toml"]
ENTRYPOINT ["python", "-m", "bot", "--config", "/config/config.toml"]
