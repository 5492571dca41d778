# syntax=docker/dockerfile:1
# Deploy Watchdog: the daemon image. Two stages: the builder installs the locked runtime dependencies and
# the package into a venv; the runtime stage copies only that venv onto a clean slim base.
#
# The base is pinned by tag (an exact patch release). For production builds pin it by digest too, e.g.
#   FROM python:3.11.14-slim-bookworm@sha256:<digest>
# and let a bot (Renovate, Dependabot) raise both together.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
# The helm and kubernetes targets run `helm` (and some rollback scripts `kubectl`): they are not in the
# default image. `docker build --build-arg TOOLS=with-tools .` copies both binaries in from their upstream
# images (kubectl from the Kubernetes project's registry, helm from alpine/helm, which packages the
# official release binary). Pin both by digest next to the tag for production, as for the base image.
ARG TOOLS=no-tools
ARG KUBECTL_IMAGE=registry.k8s.io/kubectl:v1.31.2
ARG HELM_IMAGE=alpine/helm:3.16.1

FROM ${KUBECTL_IMAGE} AS kubectl
FROM ${HELM_IMAGE} AS helm

# Exactly one of these two becomes `tools`; BuildKit builds (and pulls) only the stages it needs.
FROM ${PYTHON_IMAGE} AS no-tools
RUN mkdir -p /tools

FROM ${PYTHON_IMAGE} AS with-tools
COPY --from=kubectl /bin/kubectl /tools/kubectl
COPY --from=helm /usr/bin/helm /tools/helm

# hadolint ignore=DL3006 a stage chosen by the TOOLS build arg, not an image to pin
FROM ${TOOLS} AS tools

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The lock first, then the package: only the runtime dependencies (no [dev] extra), every one pinned.
COPY pyproject.toml constraints.txt README.md ./
COPY watchdog/ ./watchdog/
RUN pip install --no-cache-dir -c constraints.txt . \
    && pip check

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="deploy-watchdog" \
      org.opencontainers.image.description="Verifies every deploy after it lands and rolls back the bad ones." \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed UID/GID so volume ownership and Kubernetes runAsUser/fsGroup agree (the Helm chart uses 10001).
RUN groupadd --system --gid 10001 watchdog \
    && useradd --system --uid 10001 --gid watchdog --home-dir /var/lib/watchdog --no-create-home \
       --shell /usr/sbin/nologin watchdog \
    && mkdir -p /var/lib/watchdog /etc/watchdog \
    && chown watchdog:watchdog /var/lib/watchdog
COPY --from=builder /opt/venv /opt/venv
# Empty unless built with TOOLS=with-tools (then /usr/local/bin/helm and /usr/local/bin/kubectl).
COPY --from=tools /tools/ /usr/local/bin/
# The shipped example config is the default; mount your own over /etc/watchdog. It holds no secret values:
# those come from the environment or from $WATCHDOG_SECRETS_DIR at run time, never from the image.
COPY config/ /etc/watchdog/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WATCHDOG_CONFIG_DIR=/etc/watchdog \
    WATCHDOG_DATA_DIR=/var/lib/watchdog \
    WATCHDOG_LOG_FORMAT=json
WORKDIR /var/lib/watchdog
USER 10001:10001
VOLUME ["/etc/watchdog", "/var/lib/watchdog"]
EXPOSE 8080
# /healthz never calls upstream systems, so a slow database cannot get a live daemon restarted.
# No curl in slim images: the image's own Python does the probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["watchdog"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--config", "/etc/watchdog"]
