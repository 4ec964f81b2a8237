#!/bin/sh
# `npm test`: every suite in turn — unit and integration, faults, partitions, containers
# (the image built and the compose stack run by podman; skipped where podman cannot
# run) — each run even when an earlier one failed, so every summary is printed; the exit
# status is non-zero when any suite failed, and the failed ones are named on the last line.
cd "$(dirname "$0")/.." || exit 1
failed=""
npx vitest run || failed="$failed unit+integration"
npx vitest run --config vitest.faults.config.ts || failed="$failed faults"
npx vitest run --config vitest.partitions.config.ts || failed="$failed partitions"
npx vitest run --config vitest.containers.config.ts || failed="$failed containers"
if [ -n "$failed" ]; then
  echo "test: failed suites:$failed" >&2
  exit 1
fi
