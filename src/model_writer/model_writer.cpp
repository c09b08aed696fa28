#include "model_writer/model_writer.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>
#include <numbers>
#include <stdexcept>
#include <unordered_set>

namespace earshot::tools {
namespace {

constexpr int kBlock = 32;  // values per block of every quantized type written here
constexpr int kQuantizationVersion = 2;
constexpr int kNFreq = 201;

// SplitMix64 (Steele, Lea, Flood 2014) and Box-Muller: fully specified, so the same seed
// gives the same file with any compiler and standard library.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1).
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) / 9007199254740992.0; }
  double normal() {
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    return r * std::cos(2.0 * std::numbers::pi * uniform());
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t state_;
};

std::int64_t count(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto v : shape) {
    n *= v;
  }
  return n;
}

std::vector<float> normal_values(Random& rng, std::int64_t n, double mean, double stddev) {
  std::vector<float> out(static_cast<std::size_t>(n));
  for (auto& v : out) {
    v = static_cast<float>(mean + stddev * rng.normal());
  }
  return out;
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
}
void put_i32(std::vector<std::uint8_t>& out, std::int32_t v) {
  put_u32(out, static_cast<std::uint32_t>(v));
}
void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put_f32(std::vector<std::uint8_t>& out, float v) {
  put_u32(out, std::bit_cast<std::uint32_t>(v));
}

bool is_quantized(std::int32_t type) {
  return type >= kTypeQ4_0;
}

// Symmetric blocks: the value of largest magnitude maps to -levels/2 (q4_0, q5_0);
// q8_0 maps +-max|x| to +-127.
void encode_block(std::int32_t type, const float* x, std::vector<std::uint8_t>& out) {
  if (type == kTypeQ8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kBlock; ++j) {
      amax = std::max(amax, std::fabs(x[j]));
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_u16(out, fp32_to_fp16(d));
    for (int j = 0; j < kBlock; ++j) {
      out.push_back(static_cast<std::uint8_t>(static_cast<std::int8_t>(std::lround(x[j] * id))));
    }
    return;
  }
  const bool five_bits = type == kTypeQ5_0 || type == kTypeQ5_1;
  const bool with_min = type == kTypeQ4_1 || type == kTypeQ5_1;
  const int top = five_bits ? 31 : 15;
  int q[kBlock];
  float d = 0.0f;
  float m = 0.0f;
  if (with_min) {
    float lo = x[0];
    float hi = x[0];
    for (int j = 1; j < kBlock; ++j) {
      lo = std::min(lo, x[j]);
      hi = std::max(hi, x[j]);
    }
    d = (hi - lo) / static_cast<float>(top);
    m = lo;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < kBlock; ++j) {
      q[j] = std::clamp(static_cast<int>((x[j] - lo) * id + 0.5f), 0, top);
    }
  } else {
    float extreme = 0.0f;
    for (int j = 0; j < kBlock; ++j) {
      if (std::fabs(x[j]) > std::fabs(extreme)) {
        extreme = x[j];
      }
    }
    const float half = static_cast<float>((top + 1) / 2);
    d = extreme / -half;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < kBlock; ++j) {
      q[j] = std::clamp(static_cast<int>(std::floor(x[j] * id + half + 0.5f)), 0, top);
    }
  }
  put_u16(out, fp32_to_fp16(d));
  if (with_min) {
    put_u16(out, fp32_to_fp16(m));
  }
  if (five_bits) {
    std::uint32_t qh = 0;
    for (int j = 0; j < kBlock; ++j) {
      qh |= static_cast<std::uint32_t>((q[j] >> 4) & 1) << j;
    }
    put_u32(out, qh);
  }
  // Byte j: value j in the low nibble, value j + 16 in the high nibble.
  for (int j = 0; j < kBlock / 2; ++j) {
    out.push_back(static_cast<std::uint8_t>((q[j] & 0x0F) | ((q[j + kBlock / 2] & 0x0F) << 4)));
  }
}

double hz_to_mel(double hz) {
  // Slaney's auditory toolbox scale (librosa htk=False): linear below 1 kHz, log above.
  constexpr double f_sp = 200.0 / 3.0;
  constexpr double min_log_hz = 1000.0;
  const double min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return hz >= min_log_hz ? min_log_mel + std::log(hz / min_log_hz) / logstep : hz / f_sp;
}

double mel_to_hz(double mel) {
  constexpr double f_sp = 200.0 / 3.0;
  constexpr double min_log_hz = 1000.0;
  const double min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return mel >= min_log_mel ? min_log_hz * std::exp(logstep * (mel - min_log_mel)) : f_sp * mel;
}

// Whisper's sinusoids(length, channels): [sin(t * inv_timescale_i) | cos(...)], timescales
// geometric from 1 to 10000.
std::vector<float> sinusoids(std::int64_t length, std::int64_t channels) {
  const std::int64_t half = channels / 2;
  const double increment = half > 1 ? std::log(10000.0) / static_cast<double>(half - 1) : 0.0;
  std::vector<float> out(static_cast<std::size_t>(length * channels), 0.0f);
  for (std::int64_t t = 0; t < length; ++t) {
    for (std::int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(t) * std::exp(-increment * static_cast<double>(i));
      out[static_cast<std::size_t>(t * channels + i)] = static_cast<float>(std::sin(angle));
      out[static_cast<std::size_t>(t * channels + half + i)] = static_cast<float>(std::cos(angle));
    }
  }
  return out;
}

class TensorBuilder {
 public:
  TensorBuilder(Random& rng, std::int32_t matrix_type, std::vector<TensorRecord>& out)
      : rng_(rng), matrix_type_(matrix_type), out_(out) {}

  void add(std::string name, std::vector<std::int64_t> shape, std::int32_t type,
           std::vector<float> values) {
    out_.push_back({std::move(name), std::move(shape), type, std::move(values), {}});
  }
  // A matrix stored as the file's type; quantized types need whole blocks per row.
  void matrix(const std::string& name, std::vector<std::int64_t> shape, double stddev) {
    std::int32_t type = matrix_type_;
    if (is_quantized(type) && shape.back() % kBlock != 0) {
      type = kTypeF16;
    }
    auto values = normal_values(rng_, count(shape), 0.0, stddev);
    add(name, std::move(shape), type, std::move(values));
  }
  void vector(const std::string& name, std::int64_t n, double mean, double stddev) {
    add(name, {n}, kTypeF32, normal_values(rng_, n, mean, stddev));
  }
  void linear(const std::string& prefix, std::int64_t out, std::int64_t in, bool bias = true) {
    matrix(prefix + ".weight", {out, in}, 1.0 / std::sqrt(static_cast<double>(in)));
    if (bias) {
      vector(prefix + ".bias", out, 0.0, 0.05);
    }
  }
  void layer_norm(const std::string& prefix, std::int64_t d) {
    vector(prefix + ".weight", d, 1.0, 0.1);
    vector(prefix + ".bias", d, 0.0, 0.05);
  }
  void attention(const std::string& prefix, std::int64_t d) {
    linear(prefix + ".query", d, d);
    linear(prefix + ".key", d, d, /*bias=*/false);
    linear(prefix + ".value", d, d);
    linear(prefix + ".out", d, d);
  }
  void conv(const std::string& prefix, std::int64_t out, std::int64_t in) {
    const std::int32_t type = matrix_type_ == kTypeF32 ? kTypeF32 : kTypeF16;
    add(prefix + ".weight", {out, in, 3}, type,
        normal_values(rng_, out * in * 3, 0.0, 1.0 / std::sqrt(static_cast<double>(in * 3))));
    // Conv biases are [d, 1] in ggml files (whisper.cpp's converter reshapes them).
    add(prefix + ".bias", {out, 1}, kTypeF32, normal_values(rng_, out, 0.0, 0.05));
  }

 private:
  Random& rng_;
  std::int32_t matrix_type_;
  std::vector<TensorRecord>& out_;
};

}  // namespace

std::optional<ModelDims> preset_dims(std::string_view name) {
  struct Preset {
    std::string_view name;
    int state, heads, layers;
  };
  static constexpr Preset kPresets[] = {{"micro", 64, 2, 2},      {"tiny", 384, 6, 4},
                                        {"base", 512, 8, 6},      {"small", 768, 12, 12},
                                        {"medium", 1024, 16, 24}, {"large", 1280, 20, 32}};
  for (const auto& p : kPresets) {
    if (p.name != name) {
      continue;
    }
    ModelDims d;
    d.n_vocab = 51865;
    d.n_audio_ctx = 1500;
    d.n_audio_state = d.n_text_state = p.state;
    d.n_audio_head = d.n_text_head = p.heads;
    d.n_audio_layer = d.n_text_layer = p.layers;
    d.n_text_ctx = 448;
    d.n_mels = 80;
    d.ftype = kTypeF32;
    return d;
  }
  return std::nullopt;
}

std::optional<std::int32_t> type_from_name(std::string_view name) {
  static constexpr std::pair<std::string_view, std::int32_t> kTypes[] = {
      {"f32", kTypeF32},   {"f16", kTypeF16},   {"q4_0", kTypeQ4_0}, {"q4_1", kTypeQ4_1},
      {"q5_0", kTypeQ5_0}, {"q5_1", kTypeQ5_1}, {"q8_0", kTypeQ8_0}};
  for (const auto& [n, t] : kTypes) {
    if (n == name) {
      return t;
    }
  }
  return std::nullopt;
}

std::uint16_t fp32_to_fp16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t abs = bits & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) {  // inf or NaN
    return static_cast<std::uint16_t>(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477FF000u) {
    return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds to inf
  }
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero): value / 2^-24, rounded to nearest even.
    const float magnitude = std::bit_cast<float>(abs);
    const float scaled = magnitude * 16777216.0f;  // exact: a power of two
    const auto q = static_cast<std::uint32_t>(std::nearbyint(scaled));
    return static_cast<std::uint16_t>(sign | q);
  }
  const std::uint32_t exponent = ((abs >> 23) - 112) << 10;
  const std::uint32_t mantissa = abs & 0x7FFFFFu;
  std::uint32_t half = exponent | (mantissa >> 13);
  const std::uint32_t rest = mantissa & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) {
    ++half;  // may carry into exponent
  }
  return static_cast<std::uint16_t>(sign | half);
}

std::vector<std::uint8_t> encode_values(std::int32_t type, std::span<const float> values) {
  std::vector<std::uint8_t> out;
  switch (type) {
    case kTypeF32:
      out.reserve(values.size() * 4);
      for (float v : values) {
        put_f32(out, v);
      }
      return out;
    case kTypeF16:
      out.reserve(values.size() * 2);
      for (float v : values) {
        put_u16(out, fp32_to_fp16(v));
      }
      return out;
    case kTypeQ4_0:
    case kTypeQ4_1:
    case kTypeQ5_0:
    case kTypeQ5_1:
    case kTypeQ8_0:
      if (values.size() % kBlock != 0) {
        throw std::invalid_argument("quantized tensor size is not a multiple of 32");
      }
      for (std::size_t b = 0; b < values.size(); b += kBlock) {
        encode_block(type, &values[b], out);
      }
      return out;
    default:
      throw std::invalid_argument("unsupported tensor type " + std::to_string(type));
  }
}

std::vector<float> mel_filter_bank(int n_mels) {
  constexpr double kSampleRate = 16000.0;
  std::vector<double> fft_freqs(kNFreq);
  for (int k = 0; k < kNFreq; ++k) {
    fft_freqs[static_cast<std::size_t>(k)] = k * kSampleRate / 400.0;
  }
  const double mel_max = hz_to_mel(kSampleRate / 2.0);
  std::vector<double> mel_f(static_cast<std::size_t>(n_mels + 2));
  for (int i = 0; i < n_mels + 2; ++i) {
    mel_f[static_cast<std::size_t>(i)] = mel_to_hz(mel_max * i / static_cast<double>(n_mels + 1));
  }
  std::vector<float> out(static_cast<std::size_t>(n_mels) * kNFreq);
  for (int b = 0; b < n_mels; ++b) {
    const auto i = static_cast<std::size_t>(b);
    const double lower_width = mel_f[i + 1] - mel_f[i];
    const double upper_width = mel_f[i + 2] - mel_f[i + 1];
    const double enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);  // Slaney: constant area per band
    for (int k = 0; k < kNFreq; ++k) {
      const double f = fft_freqs[static_cast<std::size_t>(k)];
      const double rising = (f - mel_f[i]) / lower_width;
      const double falling = (mel_f[i + 2] - f) / upper_width;
      out[i * kNFreq + static_cast<std::size_t>(k)] =
          static_cast<float>(std::max(0.0, std::min(rising, falling)) * enorm);
    }
  }
  return out;
}

std::vector<std::string> generated_vocab(int n_vocab, std::uint64_t seed) {
  std::size_t stored = static_cast<std::size_t>(std::max(n_vocab, 0));
  if (n_vocab == 51864) {
    stored = 50256;
  }
  if (n_vocab >= 51865) {
    stored = 50257;
  }
  std::vector<std::string> vocab;
  vocab.reserve(stored);
  for (int b = 0; b < 256 && vocab.size() < stored; ++b) {
    vocab.emplace_back(1, static_cast<char>(b));
  }
  if (vocab.size() >= stored) {
    return vocab;
  }

  Random rng(seed ^ 0x766F636162ull);
  std::unordered_set<std::string> known(vocab.begin(), vocab.end());
  // Merge pieces: left may start with a space, right is letters only, so that every merged
  // token is one pre-tokenizer piece and both halves have lower ranks (ids).
  std::vector<std::string> lefts = {" "};
  std::vector<std::string> rights;
  for (char c = 'a'; c <= 'z'; ++c) {
    lefts.emplace_back(1, c);
    rights.emplace_back(1, c);
  }
  while (vocab.size() < stored) {
    std::string token = lefts[rng.below(lefts.size())] + rights[rng.below(rights.size())];
    if (token.size() > 16 || !known.insert(token).second) {
      continue;
    }
    vocab.push_back(token);
    lefts.push_back(token);
    if (token.front() != ' ') {
      rights.push_back(token);
    }
  }
  return vocab;
}

std::int32_t file_type_of(std::int32_t type) {
  switch (type) {
    case kTypeQ5_0:
      return 8;
    case kTypeQ5_1:
      return 9;
    case kTypeQ8_0:
      return 7;
    default:
      return type;  // f32, f16, q4_0 and q4_1 share their numbers
  }
}

ModelContents make_model(const ModelSpec& spec) {
  const ModelDims& dims = spec.dims;
  ModelContents c;
  c.dims = dims;
  c.ftype_field =
      file_type_of(dims.ftype) + (is_quantized(dims.ftype) ? 1000 * kQuantizationVersion : 0);
  c.filters_n_mel = dims.n_mels;
  c.mel_filters = mel_filter_bank(dims.n_mels);
  c.vocab = spec.vocab.empty() ? generated_vocab(dims.n_vocab, spec.seed) : spec.vocab;

  Random rng(spec.seed);
  TensorBuilder t(rng, dims.ftype, c.tensors);
  const std::int64_t d = dims.n_audio_state;
  t.add("encoder.positional_embedding", {dims.n_audio_ctx, d}, kTypeF32,
        sinusoids(dims.n_audio_ctx, d));
  t.conv("encoder.conv1", d, dims.n_mels);
  t.conv("encoder.conv2", d, d);
  for (int i = 0; i < dims.n_audio_layer; ++i) {
    const std::string p = "encoder.blocks." + std::to_string(i);
    t.attention(p + ".attn", d);
    t.layer_norm(p + ".attn_ln", d);
    t.linear(p + ".mlp.0", 4 * d, d);
    t.linear(p + ".mlp.2", d, 4 * d);
    t.layer_norm(p + ".mlp_ln", d);
  }
  t.layer_norm("encoder.ln_post", d);

  const std::int64_t dt = dims.n_text_state;
  t.add("decoder.positional_embedding", {dims.n_text_ctx, dt}, kTypeF32,
        normal_values(rng, dims.n_text_ctx * dt, 0.0, 0.02));
  t.matrix("decoder.token_embedding.weight", {dims.n_vocab, dt},
           1.0 / std::sqrt(static_cast<double>(dt)));
  for (int i = 0; i < dims.n_text_layer; ++i) {
    const std::string p = "decoder.blocks." + std::to_string(i);
    t.attention(p + ".attn", dt);
    t.layer_norm(p + ".attn_ln", dt);
    t.attention(p + ".cross_attn", dt);
    t.layer_norm(p + ".cross_attn_ln", dt);
    t.linear(p + ".mlp.0", 4 * dt, dt);
    t.linear(p + ".mlp.2", dt, 4 * dt);
    t.layer_norm(p + ".mlp_ln", dt);
  }
  t.layer_norm("decoder.ln", dt);
  return c;
}

namespace {

std::vector<std::uint8_t> header_bytes(const ModelContents& c) {
  std::vector<std::uint8_t> out;
  put_u32(out, c.magic);
  const ModelDims& d = c.dims;
  for (const int v : {d.n_vocab, d.n_audio_ctx, d.n_audio_state, d.n_audio_head, d.n_audio_layer,
                      d.n_text_ctx, d.n_text_state, d.n_text_head, d.n_text_layer, d.n_mels}) {
    put_i32(out, v);
  }
  put_i32(out, c.ftype_field);
  put_i32(out, c.filters_n_mel);
  put_i32(out, c.filters_n_fft);
  for (float v : c.mel_filters) {
    put_f32(out, v);
  }
  put_i32(out, static_cast<std::int32_t>(c.vocab.size()));
  for (const auto& token : c.vocab) {
    put_u32(out, static_cast<std::uint32_t>(token.size()));
    out.insert(out.end(), token.begin(), token.end());
  }
  return out;
}

std::vector<std::uint8_t> tensor_bytes(const TensorRecord& t) {
  std::vector<std::uint8_t> out;
  put_i32(out, static_cast<std::int32_t>(t.shape.size()));
  put_i32(out, static_cast<std::int32_t>(t.name.size()));
  put_i32(out, t.type);
  // ggml's ne: fastest-varying dimension first, the reverse of PyTorch's shape.
  for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) {
    put_i32(out, static_cast<std::int32_t>(*it));
  }
  out.insert(out.end(), t.name.begin(), t.name.end());
  const auto data = t.raw.empty() ? encode_values(t.type, t.values) : t.raw;
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

}  // namespace

std::vector<std::uint8_t> serialize(const ModelContents& c) {
  std::vector<std::uint8_t> out = header_bytes(c);
  for (const auto& t : c.tensors) {
    const auto bytes = tensor_bytes(t);
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  return out;
}

void write_model_file(const ModelContents& contents, const std::filesystem::path& path) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) {
    throw std::runtime_error(path.string() + ": cannot open for writing");
  }
  auto write = [&](const std::vector<std::uint8_t>& bytes) {
    file.write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  };
  // Tensor by tensor, so that a large model is never held twice in memory.
  write(header_bytes(contents));
  for (const auto& t : contents.tensors) {
    write(tensor_bytes(t));
  }
  file.close();
  if (!file) {
    throw std::runtime_error(path.string() + ": write failed");
  }
}

}  // namespace earshot::tools
