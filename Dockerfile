# syntax=docker/dockerfile:1
# MoltStack in a container: the build stage compiles the single executable (migrations, static files, PGlite and a
# migrated snapshot embedded), the runtime stage is Debian slim with that one file and nothing else of the repo.
#   docker build -t moltstack .
#   docker run -p 3000:3000 -v moltstack-data:/data moltstack          # embedded PGlite in /data
# For Postgres + Redis see docker-compose.yml.

FROM oven/bun:1.4.5 AS build
WORKDIR /src
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile
# The sources come in through a bind mount so that the context's own node_modules/ and dist/ stay out, and so that
# static/ and views/ may be absent (git does not keep empty folders).
RUN --mount=type=bind,target=/context \
    cp -r /context/bunfig.toml /context/tsconfig.json /context/src /context/migrations . \
 && for dir in static views; do if [ -d "/context/$dir" ]; then cp -r "/context/$dir" .; fi; done \
 && bun run build \
 && ./dist/moltstack version

FROM debian:bookworm-slim
# curl only for the health check; the binary itself needs nothing but glibc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --create-home moltstack
COPY --from=build /src/dist/moltstack /usr/local/bin/moltstack
USER moltstack
WORKDIR /data
ENV HOST=0.0.0.0 \
    PORT=3000 \
    MOLTSTACK_DATA_DIR=/data
VOLUME /data
EXPOSE 3000
# SIGTERM lets MoltStack finish in-flight requests and close WebSockets with 1001 before it exits.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/readyz" >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/moltstack"]
CMD ["serve"]
