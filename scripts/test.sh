#!/usr/bin/env bash
# Installs every dependency, builds and runs the whole test suite: the release preset, then
# the asan preset (AddressSanitizer + UndefinedBehaviorSanitizer). Presets can be named:
#   scripts/test.sh release
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# Client tests' npm packages (the OpenAI SDK, playwright-core), from the lockfile.
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release asan)
for preset in "${presets[@]}"; do
  echo "=== $preset: build"
  ./scripts/build.sh "$preset"
  echo "=== $preset: test"
  ctest --preset "$preset" -j "$(nproc)"
done
