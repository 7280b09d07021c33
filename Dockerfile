# faastlane as an HTTP container (Knative, Cloud Run, any container platform): `faastlane
# serve` with one workflow registered, listening on $PORT (8080 unless the platform sets it).
#
#   docker build --build-arg WORKFLOW=examples/finra --build-arg NAME=finra -t faastlane-finra .
#   docker run --rm -p 8080:8080 faastlane-finra
#   curl -X POST --data @examples/finra/input.json localhost:8080/invoke/finra
#
# Stage 1 builds the binary against the CPython of the image it runs on (PyO3 links libpython
# and records its directory as the rpath); stage 2 is that slim Python image with the binary,
# the workflow, and the workflow's requirements installed at build time (the runtime finds
# them on its interpreter and downloads nothing when it starts).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG RUST_VERSION=1.95.0
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl gcc libc6-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain "${RUST_VERSION}"
ENV PATH=/root/.cargo/bin:${PATH} \
    PYO3_PYTHON=/usr/local/bin/python3
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
# The runtime alone: no benchmark suite (its Redis client and pickle reader) in the image.
RUN cargo build --release --locked -p faastlane --no-default-features \
    && install -D target/release/faastlane /out/faastlane

FROM ${PYTHON_IMAGE}
# The workflow directory to serve, and the state machine's name (POST /invoke/NAME).
ARG WORKFLOW=examples/finra
ARG NAME=finra
COPY --from=build /out/faastlane /usr/local/bin/faastlane
COPY ${WORKFLOW} /workflows/${NAME}/
RUN if [ -f "/workflows/${NAME}/requirements.txt" ]; then \
        pip install --no-cache-dir -r "/workflows/${NAME}/requirements.txt"; \
    fi \
    && useradd --system --home-dir /var/lib/faastlane --create-home faastlane
USER faastlane
ENV PORT=8080 \
    FAASTLANE_WORKFLOW=/workflows/${NAME} \
    FAASTLANE_DB=:memory: \
    XDG_CACHE_HOME=/var/lib/faastlane/cache
EXPOSE 8080
# Arguments given to the container (`args:` in Kubernetes) are added to `faastlane serve`:
# `--remote http://SERVICE.NAMESPACE.svc.cluster.local`, `--workers N`, `-v`.
ENTRYPOINT ["/bin/sh", "-c", "exec faastlane serve \"$FAASTLANE_WORKFLOW\" --db \"$FAASTLANE_DB\" \"$@\"", "faastlane"]
