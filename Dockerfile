# syntax=docker/dockerfile:1
#
# Vigil's worker and starter CLI in one small image.
#
#   docker build -t vigil .
#   docker run --rm -v $PWD/vigil.yaml:/etc/vigil/vigil.yaml:ro \
#     -e VIGIL_TEMPORAL_ADDRESS=host.docker.internal:7233 -e VIGIL_HTTP_ADDR=0.0.0.0:8088 -p 8088:8088 vigil
#   docker run --rm --entrypoint /starter vigil validate -config /etc/vigil/vigil.yaml -skip-env
#
# docker-compose.yml builds this image for its vigil-worker and vigil-apply
# services. deploy/deploy_test.go checks that the builds below compile
# statically and that the Go version matches go.mod.

# The go directive of go.mod (keep them equal, or newer here).
FROM golang:1.26.8 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly GOTOOLCHAIN=local
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
# -tags nodev leaves the embedded Temporal server and Web UI (worker -dev) out
# of the worker: production workers dial temporal.address. See the README's
# "Design notes" for the sizes.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -tags nodev -ldflags="-s -w" -o /out/worker ./worker && \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/starter ./starter

# The same binaries on a Python image, for `trainer: command` with a Python
# training script (the default image below has no shell and no Python, so
# only remote trainers — sagemaker, gitlab, jenkins — run from it). Add your
# script's packages on top: FROM vigil:python + RUN pip install ...
#   docker build --target worker-python -t vigil:python .
FROM python:3.13-slim AS worker-python
COPY --from=build /out/worker /out/starter /
USER 65532:65532
EXPOSE 8088
ENTRYPOINT ["/worker"]
CMD ["-config", "/etc/vigil/vigil.yaml"]

# Static binaries, CA certificates for S3/Slack/PagerDuty, no shell, uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="vigil" \
      org.opencontainers.image.description="Monitors ML models in production with Temporal workflows" \
      org.opencontainers.image.source="https://github.com/vigilml/vigil"
COPY --from=build /out/worker /out/starter /
USER nonroot:nonroot
# worker.http_addr: /healthz /readyz /metrics, ingest, Slack interactions.
# Its default, 127.0.0.1:8088, is unreachable from outside the container: set
# VIGIL_HTTP_ADDR=0.0.0.0:8088 (docker-compose.yml does) or worker.http_addr.
EXPOSE 8088
ENTRYPOINT ["/worker"]
CMD ["-config", "/etc/vigil/vigil.yaml"]
