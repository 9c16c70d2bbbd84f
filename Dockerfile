# syntax=docker/dockerfile:1.7
#
# The txlake image: one static-ish binary on distroless, non-root, read-only-root friendly.
#
#   DOCKER_BUILDKIT=1 docker build -t txlake:0.1.0 .
#
# The build needs the whole workspace: the connectors' manifests and models (connectors/)
# and the SQL model and metrics (sql/) are embedded into the binary at compile time.
# TLS is rustls (reqwest, object_store), so no OpenSSL; aws-lc-sys, ring and zstd-sys
# only need the C compiler that the rust:*-slim image ships.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target directory between builds (a cold build of
# DataFusion and delta-rs takes a while). The target directory is a cache, not a layer, so
# the binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p txlake \
 && install -D -m 0755 target/release/txlake /out/txlake

# glibc of bookworm (the build stage) = glibc of debian12; cc = libgcc_s + CA certificates.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="txlake" \
      org.opencontainers.image.description="Total Experience (CX + EX) data platform: connectors into Delta Lake, SQL, metrics and a REST API" \
      org.opencontainers.image.source="https://github.com/txlake/txlake" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/txlake /usr/local/bin/txlake
# Nothing is written outside TMPDIR and the lake (a mounted volume or object storage), so
# the root filesystem can be read-only with an emptyDir on /tmp.
ENV TMPDIR=/tmp \
    TXLAKE_CONFIG=/etc/txlake/txlake.toml
# Numeric, so Kubernetes' runAsNonRoot can verify it (65532 = distroless "nonroot").
USER 65532:65532
EXPOSE 8080
# No HEALTHCHECK: Kubernetes probes /healthz and /readyz.
ENTRYPOINT ["/usr/local/bin/txlake"]
CMD ["serve", "--config", "/etc/txlake/txlake.toml"]
