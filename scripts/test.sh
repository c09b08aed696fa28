#!/usr/bin/env bash
# Installs every dependency, builds and runs the whole test suite: the release preset, then
# the asan preset (AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer). The fuzz corpora and
# regression inputs are replayed by each preset's ctest (label fuzz). Two more stages run
# when named: the server and scheduler tests under ThreadSanitizer (tsan; not yet green:
# OpenMP inside the engine gives false reports its suppressions do not catch, see
# docs/security.md) and every fuzz target for 30 s (fuzz):
#   scripts/test.sh release
#   scripts/test.sh tsan fuzz
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# Client tests' npm packages (the OpenAI SDK, playwright-core), from the lockfile.
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release asan)
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
