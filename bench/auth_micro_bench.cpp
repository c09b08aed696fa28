// Micro-benchmark of the token decision (server::TokenAuth::decide) in process, where its
// own cost is not hidden under the network's: an unknown token against tokens that match a
// known one but for their last or first character, with 1 and 64 known tokens. Constant-time
// comparison means the near misses cost what an unknown token costs. Figures only.

#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "server/token_auth.h"

namespace {

using earshot::server::TokenAuth;
using earshot::server::TokenEntry;

const std::string kSecret = "s3cret-token-for-the-timing-probe-0123456789";

TokenAuth make_auth(int known) {
  std::vector<TokenEntry> tokens;
  for (int i = 0; i < known; ++i) {
    TokenEntry t;
    t.plaintext = kSecret;
    if (i != known - 1) {  // the others differ from it in their first two characters
      t.plaintext[0] = static_cast<char>('A' + i % 26);
      t.plaintext[1] = static_cast<char>('a' + i / 26);
    }
    t.label = std::to_string(i);
    tokens.push_back(t);
  }
  return TokenAuth(tokens, {"Token", "Bearer"});
}

void decide(benchmark::State& state, std::string token) {
  const auto auth = make_auth(static_cast<int>(state.range(0)));
  const std::string header = "Token " + token;
  for (auto _ : state) {
    benchmark::DoNotOptimize(auth.decide(header));
  }
}

std::string last_wrong() {
  auto t = kSecret;
  t.back() = 'x';
  return t;
}

std::string first_wrong() {
  auto t = kSecret;
  t.front() = 'x';
  return t;
}

BENCHMARK_CAPTURE(decide, unknown, std::string("Zq81mVnR0pLk2JxW7tYc4HsBe9GfUa3oDi6Ny5Mw0ErT"))
    ->Arg(1)
    ->Arg(64);
BENCHMARK_CAPTURE(decide, last_char_wrong, last_wrong())->Arg(1)->Arg(64);
BENCHMARK_CAPTURE(decide, first_char_wrong, first_wrong())->Arg(1)->Arg(64);
BENCHMARK_CAPTURE(decide, valid, kSecret)->Arg(1)->Arg(64);

}  // namespace

BENCHMARK_MAIN();
