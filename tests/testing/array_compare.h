#pragma once

// Differences between an engine's array and a reference array, as the conformance README
// (section 7) states its tolerances.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>

namespace earshot::testing {

struct ArrayDiff {
  double max_abs = 0;
  double mean_abs = 0;
  double rel_l2 = 0;  // ||a - b|| / ||b||
  std::size_t count = 0;

  std::string summary() const {
    return "max abs " + std::to_string(max_abs) + " (" + std::to_string(max_abs * 1e6) +
           "e-6), mean abs " + std::to_string(mean_abs * 1e9) + "e-9, rel L2 " +
           std::to_string(rel_l2 * 1e9) + "e-9 over " + std::to_string(count) + " values";
  }
};

// `actual` against `expected`; sizes must match (the caller asserts that first).
inline ArrayDiff compare_arrays(std::span<const float> actual, std::span<const float> expected) {
  ArrayDiff d;
  d.count = std::min(actual.size(), expected.size());
  double sum_abs = 0;
  double err2 = 0;
  double ref2 = 0;
  for (std::size_t i = 0; i < d.count; ++i) {
    const double e = static_cast<double>(actual[i]) - static_cast<double>(expected[i]);
    const double a = std::fabs(e);
    d.max_abs = std::isnan(a) ? INFINITY : std::max(d.max_abs, a);
    sum_abs += a;
    err2 += e * e;
    ref2 += static_cast<double>(expected[i]) * static_cast<double>(expected[i]);
  }
  d.mean_abs = d.count > 0 ? sum_abs / static_cast<double>(d.count) : 0;
  d.rel_l2 = ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
  return d;
}

// Index of the largest value (the first one on ties).
inline std::size_t argmax(std::span<const float> row) {
  return static_cast<std::size_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

}  // namespace earshot::testing
