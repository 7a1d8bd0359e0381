FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin mjbot \
    && mkdir -p /data /config && chown mjbot /data

USER mjbot
WORKDIR /data
VOLUME ["/data"]
# The database lives on the /data volume: set [storage] database = "/data/mjbot.sqlite3" in the config.
ENTRYPOINT ["python", "-m", "bot", "--config", "/config/config.toml"]
