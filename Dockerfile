# fleet's controller image: Python 3.11 slim, git (+ ssh for git@ repositories), kustomize and
# helm, running as an unprivileged numeric user. Build from the repository root:
#   docker build -t ghcr.io/fleet-gitops/fleet:dev .
# Stages: render-binaries (kustomize + helm from the Go module proxy, versions pinned in
# tools/render-binaries/build.sh), wheel (this project), runtime.
# No `# syntax=` line: the Dockerfile frontend built into Docker 20.10+ understands `RUN --mount`,
# and a syntax line makes BuildKit pull docker/dockerfile, which fails with no registry.
# GO_IMAGE and PYTHON_IMAGE replace the two base images where none can be pulled: e2e/kind builds
# local stand-ins from Debian packages (e2e/kind/images/{golang,python}) and passes their names.
ARG GO_IMAGE=golang:1.26-bookworm
ARG PYTHON_IMAGE=python:3.11-slim

# ---- kustomize and helm, built by the same pinned script the tests use (needs Go >= 1.26) ----
FROM ${GO_IMAGE} AS render-binaries
WORKDIR /build
COPY tools/render-binaries/build.sh ./build.sh
RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    ./build.sh /out

# ---- the fleet wheel (only the wheel reaches the runtime image, not the source tree) ----
FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fleet ./fleet
COPY generators ./generators
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# ---- runtime ----
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates openssh-client \
    && rm -rf /var/lib/apt/lists/*
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels \
    pip install --no-cache-dir /wheels/*.whl
COPY --from=render-binaries /out/kustomize /out/helm /usr/local/bin/
COPY crds /opt/fleet/crds
ENV FLEET_CRDS_DIR=/opt/fleet/crds \
    HOME=/tmp
# 65532: the conventional "nonroot" uid/gid; numeric so runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080 8081
ENTRYPOINT ["fleet"]
CMD ["controller", "run", "--namespace", "fleet-system"]
