#!/usr/bin/env bash
# Installs every dependency, builds and runs the whole test suite: the release preset, then
# the asan preset (AddressSanitizer + UndefinedBehaviorSanitizer), then the server and
# scheduler tests under the tsan preset (ThreadSanitizer), then every fuzz target for 30 s
# (scripts/fuzz.sh; the corpora and regression inputs are also replayed by each preset's
# ctest, label fuzz). Stages can be named:
#   scripts/test.sh release
#   scripts/test.sh tsan fuzz
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# Client tests' npm packages (the OpenAI SDK, playwright-core), from the lockfile.
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release asan tsan fuzz)
for preset in "${presets[@]}"; do
  start=$SECONDS
  if [ "$preset" = fuzz ]; then
    echo "=== fuzz: 30 s per target"
    ./scripts/fuzz.sh 30
  else
    echo "=== $preset: build"
    ./scripts/build.sh "$preset"
    echo "=== $preset: test"
    ctest --preset "$preset" -j "$(nproc)"
  fi
  echo "=== $preset: $((SECONDS - start)) s"
done
