# The project's one image: API, listener, dashboard and admin commands, with the four models trained
# at build time. `docker run IMAGE help` lists the commands (docker/entrypoint.sh).
#
#   docker build -t futurisys .                                 # official Python base image
#   docker build --build-arg BASE_IMAGE=futurisys/debian:bookworm -t futurisys .   # CI: a local Debian
#
# Behind a TLS-intercepting proxy, put its CA bundle at docker/build-ca.crt (git-ignored): only the
# build stage sees it, never the final image.
ARG BASE_IMAGE=python:3.11-slim

# Python itself: the official image has it; a bare Debian gets Debian's python3.
FROM ${BASE_IMAGE} AS python
RUN if ! command -v python3 >/dev/null; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 \
      && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb; \
    fi

# Dependencies into /opt/venv: the runtime ones only (pyproject's [project] dependencies, no extras).
FROM python AS build
RUN if ! python3 -c 'import ensurepip' 2>/dev/null; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && python3 -m venv /opt/venv
# docker/wheels/ (git-ignored; CI fills it from its pip cache) lets the install skip the download.
COPY pyproject.toml docker/build-ca.cr[t] /tmp/build/
COPY pyproject.toml docker/wheel[s] /tmp/build/wheels/
RUN set -e; cd /tmp/build; \
    if [ -f build-ca.crt ]; then export PIP_CERT=/tmp/build/build-ca.crt; fi; \
    python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > requirements.txt; \
    if ls wheels/*.whl >/dev/null 2>&1; then set -- --no-index --find-links wheels; fi; \
    /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --quiet "$@" -r requirements.txt; \
    /opt/venv/bin/pip uninstall --yes --quiet setuptools pip; \
    rm -rf /tmp/build

# The models, trained once here (fixed seeds, packaged data set: no network), registered at start.
FROM build AS train
WORKDIR /app
COPY sql/ sql/
COPY model_store/ model_store/
RUN rm -rf model_store/artifacts \
 && PYTHONPATH=/app /opt/venv/bin/python -m model_store train

FROM python AS runtime
RUN useradd --uid 1000 --create-home --shell /usr/sbin/nologin app \
 && install -d -o app -g app /var/lib/futurisys
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY sql/ sql/
COPY model_store/ model_store/
COPY service/ service/
COPY listener/ listener/
COPY ui/ ui/
COPY scripts/__init__.py scripts/processes.py scripts/run_stack.py scripts/
COPY docker/entrypoint.sh docker/healthcheck.py docker/logins.py docker/
COPY --from=train /app/model_store/artifacts/ model_store/artifacts/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EMBEDDED_PG_DIR=/var/lib/futurisys/pgdata \
    FUTURISYS_RUN_DIR=/var/lib/futurisys/run \
    HOME=/home/app
USER app
EXPOSE 8000 8501 7860
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["help"]
