#!/usr/bin/env bash
# Installs every dependency, builds and runs the whole test suite, in five stages: format
# (every C++ file as clang-format makes it, scripts/check-format.sh); the release preset; the asan preset (AddressSanitizer + UndefinedBehaviorSanitizer +
# LeakSanitizer); the tsan preset (ThreadSanitizer over the server, scheduler and integration
# tests, see docs/security.md); and fuzz, every libFuzzer target for EARSHOT_FUZZ_SECONDS
# (default 30) seconds each (scripts/fuzz.sh). The fuzz corpora and regression inputs are also
# replayed by the release and asan ctests (label fuzz). Name stages to run only those:
#   scripts/test.sh release
#   EARSHOT_FUZZ_SECONDS=60 scripts/test.sh fuzz
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# Client tests' npm packages (the OpenAI SDK, playwright-core, the Silero VAD weights and
# onnxruntime-node), from the lockfile.
# onnxruntime-node (the Silero VAD reference) would fetch CUDA libraries from a host that the
# CPU-only tests never need.
(cd tests/e2e && ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund --loglevel=error)
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(format release asan tsan fuzz)
fuzz_seconds=${EARSHOT_FUZZ_SECONDS:-30}
for preset in "${presets[@]}"; do
  start=$SECONDS
  if [ "$preset" = format ]; then
    echo "=== format"
    ./scripts/check-format.sh
  elif [ "$preset" = fuzz ]; then
    echo "=== fuzz: ${fuzz_seconds} s per target"
    ./scripts/fuzz.sh "$fuzz_seconds"
  else
    echo "=== $preset: build"
    ./scripts/build.sh "$preset"
    echo "=== $preset: test"
    # The tsan test preset has ThreadSanitizer write its reports to build/tsan/tsan-report.PID
    # (log_path), so that a report from a server a test started fails the stage too, not only
    # one from a test program itself.
    rm -f "build/$preset"/tsan-report.*
    passed=1
    ctest --preset "$preset" -j "$(nproc)" || passed=0
    if compgen -G "build/$preset/tsan-report.*" >/dev/null; then
      cat "build/$preset"/tsan-report.*
      echo "=== $preset: ThreadSanitizer reports above"
      passed=0
    fi
    [ "$passed" = 1 ] || exit 1
  fi
  echo "=== $preset: $((SECONDS - start)) s"
done
