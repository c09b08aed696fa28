#pragma once

// Reader for the NumPy .npy files of the conformance data (format 1.0/2.0, little-endian
// float32 '<f4' or float64 '<f8', C order; float64 is converted to float).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace earshot::testing {

struct NpyArray {
  std::vector<std::int64_t> shape;
  std::vector<float> data;  // row-major

  std::int64_t dim(std::size_t i) const { return shape.at(i); }
  // The i-th slice along the first dimension.
  std::span<const float> slice(std::int64_t i) const;
};

// Throws std::runtime_error on a file that is missing or not a supported .npy.
NpyArray read_npy(const std::filesystem::path& path);

}  // namespace earshot::testing
