# syntax=docker/dockerfile:1
# KAP Journey: `kap-journey serve` (API + in-process worker) on port 8000.
# By default the database is the embedded SQLite file in /var/lib/kap-journey (mount a volume
# there). For production set KAP_DATABASE_URL=postgresql+asyncpg://... and run
# `kap-journey worker` containers beside `kap-journey serve --no-worker`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what `pip install .` needs is in the context (see .dockerignore). Installed as root, so
# the running service cannot modify its own code.
WORKDIR /usr/src/kap-journey
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY app/ app/
COPY migrations/ migrations/
# The evidence page served at /docs/clinical-evidence; the build puts it inside the package.
COPY docs/clinical-evidence.md docs/
RUN pip install --no-cache-dir . \
    && rm -rf build ./*.egg-info

RUN groupadd --system --gid 10001 kap \
    && useradd --system --no-log-init --uid 10001 --gid kap \
        --home-dir /var/lib/kap-journey --shell /usr/sbin/nologin kap \
    && mkdir -p /var/lib/kap-journey \
    && chown kap:kap /var/lib/kap-journey

# The default database URL is relative (./kap-journey.db), so it lands in this writable dir.
WORKDIR /var/lib/kap-journey
VOLUME ["/var/lib/kap-journey"]
# Numeric, so that runAsNonRoot (Kubernetes) can verify it without reading /etc/passwd.
USER 10001:10001

EXPOSE 8000
# slim has no curl; urlopen raises (exit 1) on a refused connection, a timeout or a non-2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["kap-journey", "serve", "--host", "0.0.0.0"]
