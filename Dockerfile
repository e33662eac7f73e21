# The nanoclaw daemon (`nanoclaw serve`), as docker-compose.yml runs it.
#   docker build -t nanoclaw:latest .
#   docker build --build-arg NODE_IMAGE=node:22-bookworm-slim -t nanoclaw:latest .
#
# Security: the daemon starts skill containers, so compose mounts the host's Docker socket into it and
# adds the socket's group. Whoever controls this process controls the Docker engine, which is root on
# the host. Keep the web port on loopback (compose publishes 127.0.0.1:3000 only), set an API token,
# and never mount the socket into a skill container. A read-only (`:ro`) socket mount does not limit
# the API; a socket proxy that allows only the container and image endpoints does.
#
# Written for the classic builder too (no BuildKit-only syntax).
ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: compile TypeScript, bundle the CLI, then drop the dev dependencies ----------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `prepare` would build before the sources are here; scripts stay off (no package needs its own).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-cli.ts scripts/
COPY src/ src/
# tsc emits only compiled code: the page's own files (scripts, styles) are copied beside it. The CLI is
# bundled into dist/bin/.
RUN npm run build \
    && if [ -d src/web/page ]; then mkdir -p dist/web && cp -R src/web/page dist/web/; fi \
    && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
    && chmod 0755 dist/bin/nanoclaw.js

# --- runtime -----------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}

# uid 10000 runs the daemon. Its primary group is 10001, the skill image's user group, so the token
# files it writes (0640, folders 0750) are readable by skill containers and by nobody else.
RUN set -eu; \
    groupadd --gid 10001 skill; \
    useradd --uid 10000 --gid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin \
            --comment "nanoclaw daemon" nanoclaw; \
    mkdir -p /app/data /app/skills; \
    chown 10000:10001 /app/data; \
    chmod 0750 /app/data

WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/dist/ dist/
# The daemon builds the default skill image from these when it is missing (see src/sandbox/skill-images.ts).
COPY Dockerfile.skill ./
RUN ln -s /app/dist/bin/nanoclaw.js /usr/local/bin/nanoclaw

# Paths inside the container; compose may move the data folder (see docker-compose.yml).
# NANOCLAW_HOST binds every interface of the container only; compose publishes it on the host's loopback.
ENV NODE_ENV=production \
    NANOCLAW_DATA_DIR=/app/data \
    NANOCLAW_SKILLS_DIR=/app/skills \
    NANOCLAW_HOST=0.0.0.0 \
    NANOCLAW_PORT=3000

USER 10000:10001
EXPOSE 3000

# A TCP connect to the daemon's port: the process is up and accepting connections.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "const s=require('node:net').connect(Number(process.env.NANOCLAW_PORT||3000),'127.0.0.1');s.setTimeout(4000);s.on('connect',()=>{s.end();process.exit(0)});s.on('timeout',()=>process.exit(1));s.on('error',()=>process.exit(1))"]

ENTRYPOINT ["nanoclaw"]
CMD ["serve", "--host", "0.0.0.0"]
