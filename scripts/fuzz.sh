#!/usr/bin/env bash
# Builds the fuzz preset (clang, libFuzzer, ASan + UBSan) and runs each fuzz target for a
# bounded time on a copy of its seed corpus (fuzz/corpus/<target>/, which stays unchanged).
#   scripts/fuzz.sh [seconds per target, default 60] [target...]
# A crash, leak, timeout (10 s per input) or memory blow-up (2 GiB) stops that target and
# leaves the input in build/fuzz/artifacts/<target>/ and, when it is small, prints it in base64
# (a CI log is then enough to reproduce); the other targets still run, and the script then
# exits 1. Fix the bug, add a regression test beside the code's tests, and keep the input as
# fuzz/regressions/<target>/<name> (replayed by ctest's fuzz_replay.<target>).
# The targets are every fuzz/<target>_fuzz.cpp.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for source in fuzz/*_fuzz.cpp; do
    name=${source##*/}
    targets+=("${name%_fuzz.cpp}")
  done
fi

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

work=build/fuzz/run
failed=()
for target in "${targets[@]}"; do
  corpus="$work/corpus/$target"
  artifacts="build/fuzz/artifacts/$target"
  rm -rf "$corpus"
  mkdir -p "$corpus" "$artifacts"
  cp -r "fuzz/corpus/$target/." "$corpus/"
  [ -d "fuzz/regressions/$target" ] && cp -r "fuzz/regressions/$target/." "$corpus/"
  echo "=== fuzz $target: ${seconds}s"
  # -fork would survive a crash and go on; a crash should stop the run and be looked at.
  if ! build/fuzz/fuzz/fuzz_"$target" "$corpus" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" >"$work/$target.log" 2>&1; then
    failed+=("$target")
    grep -E "ERROR|SUMMARY|Test unit written" "$work/$target.log" | head -20 || true
    for input in $(sed -n 's/.*Test unit written to //p' "$work/$target.log"); do
      if [ -f "$input" ] && [ "$(stat -c %s "$input")" -le 65536 ]; then
        echo "--- $input, base64 (base64 -d > FILE to reproduce):"
        base64 "$input"
        echo "---"
      fi
    done
    echo "fuzz $target: FAILED (log: $work/$target.log)"
  else
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$work/$target.log" | tr '\n' ' '
    echo
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failures in ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash"
