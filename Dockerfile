# The annapurna binary (worker, stand-in, CLI) for docker-compose.yml.
FROM rust:1.92-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends protobuf-compiler \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin annapurna

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data annapurna \
    && mkdir -p /data && chown annapurna /data
COPY --from=build /src/target/release/annapurna /usr/local/bin/annapurna
USER annapurna
WORKDIR /data
ENTRYPOINT ["annapurna"]
CMD ["worker"]
