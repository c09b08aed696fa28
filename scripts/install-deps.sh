#!/usr/bin/env bash
# Installs every Debian 12 package earshot needs to build, test and run.
# Idempotent: packages already present are left as they are.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  clang clang-format clang-tidy libclang-rt-14-dev
  # OpenMP for clang (the fuzz preset builds the engine with clang)
  libomp-dev
  # server
  libboost-dev libboost-system-dev libssl-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libcli11-dev libcurl4-openssl-dev zlib1g-dev
  # engine
  libavformat-dev libavcodec-dev libavutil-dev libswresample-dev
  libdnnl-dev libopenblas-dev libfftw3-dev libpcre2-dev
  # ONNX model files (the Silero VAD): libprotobuf-lite and protoc for our .proto subset
  libprotobuf-dev protobuf-compiler
  # dnnl's CMake package config calls find_package(OpenCL)
  ocl-icd-opencl-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-aiohttp ffmpeg openssl
  # the web page's browser tests (tests/e2e/web_page.test.mjs drive it headless)
  chromium
)

# Node.js and npm for the client tests, from Debian unless a Node.js is already installed.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
