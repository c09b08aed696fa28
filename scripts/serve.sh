#!/usr/bin/env bash
# Installs every dependency, builds the release preset and starts the server on the shipped
# config.json (or $EARSHOT_CONFIG). Extra arguments go to `earshot serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh release
exec ./build/release/src/cli/earshot serve "$@"
