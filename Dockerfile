# syntax=docker/dockerfile:1
#
# The idalloc service image (docs/design.md §12).
#
#   docker build -t idalloc .
#   docker run -p 8080:8080 -e REDIS_URL=redis://redis-host:6379 idalloc
#   docker run --rm -e REDIS_URL=redis://redis-host:6379 idalloc idalloc-admin tag list
#
# Three stages: `build` compiles TypeScript with the dev dependencies, `deps` installs the
# production dependencies alone, and the runtime stage takes just the two results.
# The runtime never runs npm: `npm start` would run the `prestart` build, which needs the
# dev dependencies this image leaves out.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# The manifests alone first, so a change in src/ reuses the cached `npm ci` layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-lua.mjs scripts/ensure.sh scripts/
COPY src src
# tsc → dist/, then scripts/copy-lua.mjs puts the Lua scripts in dist/lua where
# dist/store/redis/scripts.js looks for them.
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# package.json's version (test/unit/deploy.test.ts holds them together).
ARG IDALLOC_VERSION=0.1.0
LABEL org.opencontainers.image.title="idalloc" \
      org.opencontainers.image.description="Unique 64-bit IDs per business tag: Leaf-style segments on Redis and fenced snowflake IDs, over HTTP." \
      org.opencontainers.image.version="${IDALLOC_VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/idalloc/idalloc" \
      org.opencontainers.image.documentation="https://github.com/idalloc/idalloc#readme"
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/app/data
WORKDIR /app
# Code and dependencies stay owned by root: the service user can read them, not change them.
COPY --from=deps /app/node_modules node_modules
# package.json says "type": "module": without it Node would not load dist/ as ES modules.
COPY package.json ./
COPY --from=build /app/dist dist
# `idalloc-admin` on the PATH, as the package's bin would be after a global install.
# The embedded store's directory (used only when no Redis is configured) is the one
# place the service writes; mount a volume there to keep it.
RUN chmod 0755 dist/bin/idalloc.js dist/bin/idalloc-admin.js \
    && ln -s /app/dist/bin/idalloc-admin.js /usr/local/bin/idalloc-admin \
    && ln -s /app/dist/bin/idalloc.js /usr/local/bin/idalloc \
    && mkdir -p /app/data \
    && chown node:node /app/data

# The unprivileged user the official Node images ship (uid 1000).
USER node
EXPOSE 8080

# Liveness only (/healthz answers while the process runs); readiness, which needs the
# store, is /readyz. Slim images have no curl, and a Node process every 10 s would cost
# ~40 MB and a CPU burst each time: bash (in every Debian image) sends the request over
# its /dev/tcp and reads the status line.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT:-8080} && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r -t 2 status <&3 && [[ $status == 'HTTP/1.1 200 '* ]]"]

# Node as PID 1 is fine here: the service handles SIGTERM itself (drain, close, exit 0).
# --no-memory-reducer: the service's V8 flag (src/bin/idalloc.ts says why).
CMD ["node", "--no-memory-reducer", "dist/bin/idalloc.js"]
