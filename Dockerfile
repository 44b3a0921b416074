# taskloom in a container: `docker build -t taskloom .`, or `docker compose up` (compose.yaml).
# Three stages: the web UI built with Node.js, the Python packages installed into a virtualenv
# from requirements.lock (exact versions, hashes checked), and a slim runtime that has neither
# compilers nor Node.js and runs as an unprivileged user.

FROM node:20-bookworm-slim AS ui
WORKDIR /build/ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY ui/ ./
# vite writes the build to ../src/taskloom/ui_dist (vite.config.ts)
RUN npx vite build --logLevel warn

FROM python:3.11-slim-bookworm AS python
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/taskloom
COPY requirements.lock /build/
RUN /opt/taskloom/bin/pip install --require-hashes --no-deps -r /build/requirements.lock
COPY pyproject.toml README.md /build/
COPY src/ /build/src/
COPY --from=ui /build/src/taskloom/ui_dist/ /build/src/taskloom/ui_dist/
RUN /opt/taskloom/bin/pip install --no-deps /build

FROM python:3.11-slim-bookworm
# bubblewrap isolates code nodes; setpriv and unshare (util-linux) are what it runs them with
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap util-linux \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/taskloom --create-home taskloom
COPY --from=python /opt/taskloom /opt/taskloom
ENV PATH=/opt/taskloom/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TASKLOOM_HOST=0.0.0.0 \
    TASKLOOM_DATABASE_URL=sqlite:////var/lib/taskloom/taskloom.db
USER taskloom
WORKDIR /var/lib/taskloom
VOLUME /var/lib/taskloom
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=3)"]
ENTRYPOINT ["taskloom"]
CMD ["serve"]
