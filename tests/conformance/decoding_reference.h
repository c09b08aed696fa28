#pragma once

// Shared pieces of the decoding conformance tests: the micro model, the reference JSON, and
// the token comparison with the near-tie rule of the conformance README (section 7).

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "earshot/whisper.h"
#include "whisper/decoding/decoding.h"

namespace earshot::testing {

// The logit tolerance the suite asserts (README section 7): a different choice is a
// numerical near-tie only where the reference's margin is at most twice it.
inline constexpr double kLogitTolerance = 2e-4;
inline constexpr double kNearTieMargin = 2 * kLogitTolerance;

inline nlohmann::json load_reference_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return nlohmann::json::parse(in);
}

// One model per file for the whole test program: loading is the slow part.
inline std::shared_ptr<const Model> micro_model(const std::filesystem::path& file) {
  static std::map<std::string, std::shared_ptr<const Model>> cache;
  auto& slot = cache[file.string()];
  if (!slot) slot = load_model(file);
  return slot;
}

enum class Agreement { kIdentical, kNearTie, kMismatch };

struct TokenAgreement {
  Agreement agreement = Agreement::kIdentical;
  std::size_t compared = 0;  // positions compared (up to and including a first difference)
  std::string detail;        // what differed, for a message or the near-tie report
};

// Compares `engine` with `reference` tokens position by position. `engine_steps` are the
// engine's decisions (their `chosen` covers a final eot that `engine` omits); `ref_steps` the
// reference's `steps`. At the first difference i: a near-tie when the reference's margin at
// step i is <= kNearTieMargin and the engine chose its runner-up; otherwise a mismatch.
inline TokenAgreement compare_tokens(const std::vector<int>& engine,
                                     const std::vector<whisper::DecodingStep>& engine_steps,
                                     const std::vector<int>& reference,
                                     const nlohmann::json& ref_steps) {
  TokenAgreement out;
  const std::size_t n = std::min(engine.size(), reference.size());
  std::size_t i = 0;
  while (i < n && engine[i] == reference[i]) ++i;
  out.compared = i;
  if (i == engine.size() && i == reference.size()) return out;
  out.compared = i + 1;
  // The engine's choice at step i (eot when its token list ended there).
  const int engine_choice = i < engine_steps.size() ? engine_steps[i].chosen : -1;
  std::ostringstream msg;
  msg << "first difference at token " << i << ": engine " << engine_choice;
  if (i < ref_steps.size()) {
    const auto& step = ref_steps[i];
    const double margin = step["margin"].get<double>();
    const int runner_up = step["top_ids"][1].get<int>();
    msg << ", reference " << step["chosen"].get<int>() << " (runner-up " << runner_up << ", margin "
        << margin << ")";
    if (margin <= kNearTieMargin && engine_choice == runner_up) {
      out.agreement = Agreement::kNearTie;
      out.detail = msg.str();
      return out;
    }
  } else {
    msg << ", reference has no step there (engine " << engine.size() << " tokens, reference "
        << reference.size() << ")";
  }
  out.agreement = Agreement::kMismatch;
  out.detail = msg.str();
  return out;
}

// The smallest recorded margin of a reference decode.
inline double min_margin(const nlohmann::json& ref_steps) {
  double m = 1e9;
  for (const auto& s : ref_steps) m = std::min(m, s["margin"].get<double>());
  return m;
}

}  // namespace earshot::testing
