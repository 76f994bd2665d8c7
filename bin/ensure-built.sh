#!/usr/bin/env bash
# Makes a fresh clone runnable: installs dependencies when they are missing or
# older than package-lock.json, and compiles TypeScript to dist/ when any
# source is newer than the last build. Safe to run concurrently (flock).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
exec 9>"$root/.build.lock"
flock 9
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "hearsay: installing dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
stamp=dist/.built
if [ ! -f "$stamp" ] || [ -n "$(find src tsconfig.json tsconfig.build.json package.json -newer "$stamp" -print -quit)" ]; then
  echo "hearsay: compiling TypeScript..." >&2
  # The stamp records when compiling started, so a source saved during the build counts as newer.
  mkdir -p dist
  next="$stamp.next"
  touch "$next"
  node_modules/.bin/tsc -p tsconfig.build.json >&2
  mv "$next" "$stamp"
fi
