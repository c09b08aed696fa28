# Every dependency is a Debian 12 package installed by scripts/install-deps.sh.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

find_package(Boost 1.74 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(CURL REQUIRED)
# ONNX model files (the Silero VAD's weights) are read with libprotobuf-lite.
find_package(Protobuf REQUIRED)
find_package(dnnl REQUIRED)
# Debian builds oneDNN on OpenMP (DNNL_CPU_RUNTIME OMP): the engine's own loops use the same
# OpenMP runtime so that one thread pool serves both.
find_package(OpenMP REQUIRED)

pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET libavformat libavcodec libavutil libswresample)
pkg_check_modules(FFTW3 REQUIRED IMPORTED_TARGET fftw3f fftw3)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)

if(EARSHOT_BUILD_TESTS)
  find_package(GTest REQUIRED)
  find_package(benchmark QUIET)
endif()
