#include "whisper/model/model.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>

#include <sys/mman.h>
#include <sys/stat.h>

#include "earshot/error.h"
#include "whisper/features/timeline.h"
#include "whisper/model/ggml_types.h"

// Storage: the matrices of an f16 file (every Linear weight and the token embedding: all but a
// few percent of the parameters) stay binary16, used in place in the mapped file; the
// products convert them exactly to f32 (in registers for a decoder step, blockwise into a
// scratch buffer for the encoder's large products), so an f16 file gives the same numbers as
// its f32 conversion. Everything else, and every tensor of an f32 or quantized file, is
// converted to f32 at load (4 bytes per parameter). Memory for an f16 file is then about the
// file's size; for a quantized one, 4 bytes per parameter.

namespace earshot {
namespace whisper {
namespace {

constexpr std::uint32_t kGgmlMagic = 0x67676d6c;  // "ggml" as a little-endian uint32
constexpr int kQuantizationVersion = 2;  // ggml's GGML_QNT_VERSION of the block layouts we read
constexpr int kQuantizationVersionFactor = 1000;

// Upper bounds on the hparams: far above every released Whisper (largest: d 1280, 32
// layers, 51866 tokens, 128 mels), low enough that sizes derived from them cannot overflow.
constexpr int kMaxVocab = 1 << 20;
constexpr int kMaxCtx = 1 << 14;
constexpr int kMaxState = 1 << 14;
constexpr int kMaxHeads = 1 << 10;
constexpr int kMaxLayers = 1 << 8;
constexpr int kMaxMels = 1 << 10;
constexpr int kMaxTensorName = 1 << 10;
constexpr int kMaxDims = 4;

class Cursor {
 public:
  Cursor(std::span<const std::uint8_t> bytes, const std::string& label)
      : bytes_(bytes), label_(label) {}

  std::size_t remaining() const { return bytes_.size() - offset_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::kModelFormat, label_ + ": " + what);
  }

  std::span<const std::uint8_t> take(std::size_t n, const std::string& what) {
    if (n > remaining()) {
      fail("truncated: " + what + " needs " + std::to_string(n) + " bytes at offset " +
           std::to_string(offset_) + ", only " + std::to_string(remaining()) + " left");
    }
    auto out = bytes_.subspan(offset_, n);
    offset_ += n;
    return out;
  }

  std::uint32_t u32(const std::string& what) {
    auto b = take(4, what);
    return static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
           (static_cast<std::uint32_t>(b[2]) << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
  }

  std::int32_t i32(const std::string& what) { return static_cast<std::int32_t>(u32(what)); }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t offset_ = 0;
  const std::string& label_;
};

int read_bounded(Cursor& in, const char* name, int lo, int hi) {
  const std::int32_t v = in.i32(std::string("hparam ") + name);
  if (v < lo || v > hi) {
    in.fail(std::string("hparam ") + name + " = " + std::to_string(v) + " is outside [" +
            std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return v;
}

ModelDims read_dims(Cursor& in, int& quantization_version) {
  ModelDims d;
  d.n_vocab = read_bounded(in, "n_vocab", 1, kMaxVocab);
  d.n_audio_ctx = read_bounded(in, "n_audio_ctx", 1, kMaxCtx);
  d.n_audio_state = read_bounded(in, "n_audio_state", 1, kMaxState);
  d.n_audio_head = read_bounded(in, "n_audio_head", 1, kMaxHeads);
  d.n_audio_layer = read_bounded(in, "n_audio_layer", 1, kMaxLayers);
  d.n_text_ctx = read_bounded(in, "n_text_ctx", 1, kMaxCtx);
  d.n_text_state = read_bounded(in, "n_text_state", 1, kMaxState);
  d.n_text_head = read_bounded(in, "n_text_head", 1, kMaxHeads);
  d.n_text_layer = read_bounded(in, "n_text_layer", 1, kMaxLayers);
  d.n_mels = read_bounded(in, "n_mels", 1, kMaxMels);
  const std::int32_t ftype = in.i32("hparam ftype");
  if (ftype < 0 || !ggml_file_type_name(ftype % kQuantizationVersionFactor)) {
    in.fail("hparam ftype = " + std::to_string(ftype) + " is not a known storage type");
  }
  d.ftype = ftype % kQuantizationVersionFactor;
  quantization_version = ftype / kQuantizationVersionFactor;
  if (d.n_audio_state % d.n_audio_head != 0) {
    in.fail("n_audio_state " + std::to_string(d.n_audio_state) + " is not a multiple of " +
            "n_audio_head " + std::to_string(d.n_audio_head));
  }
  // Cross-attention projects the encoder output with square [n_text_state]^2 weights.
  if (d.n_audio_state != d.n_text_state) {
    in.fail("n_audio_state " + std::to_string(d.n_audio_state) + " differs from n_text_state " +
            std::to_string(d.n_text_state));
  }
  if (d.n_text_state % d.n_text_head != 0) {
    in.fail("n_text_state " + std::to_string(d.n_text_state) + " is not a multiple of " +
            "n_text_head " + std::to_string(d.n_text_head));
  }
  return d;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) {
      s += ", ";
    }
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// Where one expected tensor goes and which shapes (PyTorch order) the file may give it.
struct Slot {
  Tensor* destination = nullptr;
  std::vector<std::int64_t> shape;
  std::optional<std::vector<std::int64_t>> alternative_shape;
  bool seen = false;
  bool matrix = false;  // a product's weight: kept as stored when that is f16
};

class SlotTable {
 public:
  void add(const std::string& name, Tensor& t, std::vector<std::int64_t> shape,
           std::optional<std::vector<std::int64_t>> alternative = std::nullopt,
           bool matrix = false) {
    slots_[name] = Slot{&t, std::move(shape), std::move(alternative), false, matrix};
  }
  void add_layer_norm(const std::string& prefix, LayerNormWeights& ln, std::int64_t d) {
    add(prefix + ".weight", ln.weight, {d});
    add(prefix + ".bias", ln.bias, {d});
  }
  void add_linear(const std::string& prefix, LinearWeights& lin, std::int64_t out, std::int64_t in,
                  bool has_bias = true) {
    add(prefix + ".weight", lin.weight, {out, in}, std::nullopt, /*matrix=*/true);
    if (has_bias) {
      add(prefix + ".bias", lin.bias, {out});
    }
  }
  void add_attention(const std::string& prefix, AttentionWeights& attn, std::int64_t d) {
    add_linear(prefix + ".query", attn.query, d, d);
    add_linear(prefix + ".key", attn.key, d, d, /*has_bias=*/false);
    add_linear(prefix + ".value", attn.value, d, d);
    add_linear(prefix + ".out", attn.out, d, d);
  }

  std::map<std::string, Slot>& slots() { return slots_; }

 private:
  std::map<std::string, Slot> slots_;
};

SlotTable expected_tensors(const ModelDims& dims, ModelWeights& w) {
  SlotTable table;
  const std::int64_t da = dims.n_audio_state;
  const std::int64_t dt = dims.n_text_state;
  auto& enc = w.encoder;
  // Conv biases are stored as PyTorch [d, 1] (whisper.cpp's converter reshapes them).
  table.add("encoder.conv1.weight", enc.conv1_weight, {da, dims.n_mels, 3});
  table.add("encoder.conv1.bias", enc.conv1_bias, {da}, std::vector<std::int64_t>{da, 1});
  table.add("encoder.conv2.weight", enc.conv2_weight, {da, da, 3});
  table.add("encoder.conv2.bias", enc.conv2_bias, {da}, std::vector<std::int64_t>{da, 1});
  table.add("encoder.positional_embedding", enc.positional_embedding, {dims.n_audio_ctx, da});
  enc.blocks.resize(static_cast<std::size_t>(dims.n_audio_layer));
  for (int i = 0; i < dims.n_audio_layer; ++i) {
    const std::string p = "encoder.blocks." + std::to_string(i);
    auto& b = enc.blocks[static_cast<std::size_t>(i)];
    table.add_layer_norm(p + ".attn_ln", b.attn_ln, da);
    table.add_attention(p + ".attn", b.attn, da);
    table.add_layer_norm(p + ".mlp_ln", b.mlp_ln, da);
    table.add_linear(p + ".mlp.0", b.mlp_fc1, 4 * da, da);
    table.add_linear(p + ".mlp.2", b.mlp_fc2, da, 4 * da);
  }
  table.add_layer_norm("encoder.ln_post", enc.ln_post, da);

  auto& dec = w.decoder;
  table.add("decoder.token_embedding.weight", dec.token_embedding, {dims.n_vocab, dt}, std::nullopt,
            /*matrix=*/true);
  table.add("decoder.positional_embedding", dec.positional_embedding, {dims.n_text_ctx, dt});
  dec.blocks.resize(static_cast<std::size_t>(dims.n_text_layer));
  for (int i = 0; i < dims.n_text_layer; ++i) {
    const std::string p = "decoder.blocks." + std::to_string(i);
    auto& b = dec.blocks[static_cast<std::size_t>(i)];
    table.add_layer_norm(p + ".attn_ln", b.attn_ln, dt);
    table.add_attention(p + ".attn", b.attn, dt);
    table.add_layer_norm(p + ".cross_attn_ln", b.cross_attn_ln, dt);
    table.add_attention(p + ".cross_attn", b.cross_attn, dt);
    table.add_layer_norm(p + ".mlp_ln", b.mlp_ln, dt);
    table.add_linear(p + ".mlp.0", b.mlp_fc1, 4 * dt, dt);
    table.add_linear(p + ".mlp.2", b.mlp_fc2, dt, 4 * dt);
  }
  table.add_layer_norm("decoder.ln", dec.ln, dt);
  return table;
}

std::uint64_t element_count(const std::vector<std::int64_t>& shape) {
  std::uint64_t n = 1;
  for (auto v : shape) {
    n *= static_cast<std::uint64_t>(v);
  }
  return n;
}

// Returns whether the tensor's data is used in place (an f16 matrix with in_place).
bool read_tensor(Cursor& in, SlotTable& table, int quantization_version, bool in_place) {
  const std::int32_t n_dims = in.i32("tensor header");
  const std::int32_t name_len = in.i32("tensor header");
  const std::int32_t type = in.i32("tensor header");
  if (n_dims < 1 || n_dims > kMaxDims) {
    in.fail("tensor with " + std::to_string(n_dims) + " dimensions (expected 1 to 4)");
  }
  if (name_len < 1 || name_len > kMaxTensorName) {
    in.fail("tensor name length " + std::to_string(name_len) + " is out of range");
  }
  std::vector<std::int64_t> ne(static_cast<std::size_t>(n_dims));
  for (auto& v : ne) {
    v = in.i32("tensor dimensions");
  }
  auto name_bytes = in.take(static_cast<std::size_t>(name_len), "tensor name");
  const std::string name(name_bytes.begin(), name_bytes.end());

  auto it = table.slots().find(name);
  if (it == table.slots().end()) {
    in.fail("unknown tensor '" + name + "'");
  }
  Slot& slot = it->second;
  if (slot.seen) {
    in.fail("tensor '" + name + "' appears twice");
  }
  slot.seen = true;

  // ggml lists ne fastest-varying first: the reverse of PyTorch's shape.
  const std::vector<std::int64_t> shape(ne.rbegin(), ne.rend());
  if (shape != slot.shape && (!slot.alternative_shape || shape != *slot.alternative_shape)) {
    in.fail("tensor '" + name + "' has shape " + shape_string(shape) + ", expected " +
            shape_string(slot.shape));
  }
  const auto layout = ggml_type_layout(type);
  if (!layout) {
    in.fail("tensor '" + name + "' has unknown type " + std::to_string(type));
  }
  if (layout->quantized) {
    if (quantization_version != kQuantizationVersion) {
      in.fail("tensor '" + name + "' is " + std::string(layout->name) +
              " of quantization version " + std::to_string(quantization_version) +
              "; only version 2 block layouts are supported");
    }
    if (ne[0] % layout->block_values != 0) {
      in.fail("tensor '" + name + "' row of " + std::to_string(ne[0]) + " values is not a " +
              "multiple of the " + std::string(layout->name) + " block size");
    }
  }
  // The shape matched an expected one, whose sizes the hparam bounds keep far from overflow.
  const std::uint64_t n = element_count(slot.shape);
  const std::uint64_t bytes = n / static_cast<std::uint64_t>(layout->block_values) *
                              static_cast<std::uint64_t>(layout->block_bytes);
  auto data = in.take(bytes, "data of tensor '" + name + "'");
  Tensor& t = *slot.destination;
  t.shape = slot.shape;
  if (slot.matrix && static_cast<GgmlType>(type) == GgmlType::kF16) {
    if (in_place) {
      t.f16 = data.data();
      return true;
    }
    t.half.resize(n);
    std::memcpy(t.half.data(), data.data(), n * 2);
    t.f16 = reinterpret_cast<const std::uint8_t*>(t.half.data());
    return false;
  }
  t.data.resize(n);
  convert_to_f32(static_cast<GgmlType>(type), data.data(), n, t.data.data());
  return false;
}

}  // namespace

void quantize_rows_int8(Tensor& tensor) {
  const std::int64_t rows = tensor.shape.at(0);
  const std::int64_t cols = tensor.elements() / std::max<std::int64_t>(rows, 1);
  tensor.q8.resize(static_cast<std::size_t>(rows * cols));
  tensor.q8_scale.resize(static_cast<std::size_t>(rows));
#pragma omp parallel
  {
    std::vector<float> row(static_cast<std::size_t>(cols));
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) {
      tensor.row_to_f32(r, row.data());
      float max_abs = 0.0f;
      for (const float v : row) {
        max_abs = std::max(max_abs, std::abs(v));
      }
      const float scale = max_abs > 0.0f ? max_abs / 127.0f : 1.0f;
      tensor.q8_scale[static_cast<std::size_t>(r)] = scale;
      std::int8_t* out = tensor.q8.data() + r * cols;
      const float inverse = 1.0f / scale;
      // Rounded half away from zero, as the activations are (gemm.cpp); |v| <= 127 by the scale.
      for (std::int64_t c = 0; c < cols; ++c) {
        const float v = std::clamp(row[static_cast<std::size_t>(c)] * inverse, -127.0f, 127.0f);
        out[c] = static_cast<std::int8_t>(static_cast<int>(v + std::copysign(0.5f, v)));
      }
    }
  }
}

namespace {

// Hands back the memory-mapped binary16 bytes of a tensor just quantized (load_model's
// release_resident_pages for part of the file), so that an int8 load never holds the whole
// file and its quantized copy at once.
using ReleaseBytes = std::function<void(const std::uint8_t*, std::size_t)>;

void quantize(Tensor& t, const ReleaseBytes& release) {
  quantize_rows_int8(t);
  if (release && t.f16 != nullptr) {
    release(t.f16, static_cast<std::size_t>(t.elements()) * 2);
  }
}

void quantize_attention(AttentionWeights& a, const ReleaseBytes& release) {
  for (LinearWeights* l : {&a.query, &a.key, &a.value, &a.out}) {
    quantize(l->weight, release);
  }
}

// Every matrix the products read: the blocks' Linear weights and the logits projection (the
// token embedding, whose rows the decoder's input lookup still reads at full precision).
// The convolutions stay f32: they are a few percent of the encoder's work.
void quantize_products(ModelWeights& w, const ReleaseBytes& release) {
  for (auto& block : w.encoder.blocks) {
    quantize_attention(block.attn, release);
    quantize(block.mlp_fc1.weight, release);
    quantize(block.mlp_fc2.weight, release);
  }
  for (auto& block : w.decoder.blocks) {
    quantize_attention(block.attn, release);
    quantize_attention(block.cross_attn, release);
    quantize(block.mlp_fc1.weight, release);
    quantize(block.mlp_fc2.weight, release);
  }
  quantize(w.decoder.token_embedding, release);
}

}  // namespace

std::shared_ptr<const Model> parse_model(std::span<const std::uint8_t> bytes,
                                         const std::string& label,
                                         std::shared_ptr<const void> owner, Precision precision,
                                         const ReleaseBytes& release_bytes) {
  Cursor in(bytes, label);
  const std::uint32_t magic = in.u32("magic");
  if (magic != kGgmlMagic) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", magic);
    in.fail(std::string("bad magic ") + hex + " (not a ggml Whisper model file)");
  }
  int quantization_version = 0;
  const ModelDims dims = read_dims(in, quantization_version);

  const std::int32_t n_mel = in.i32("mel filter header");
  const std::int32_t n_fft = in.i32("mel filter header");
  if (n_mel != dims.n_mels || n_fft != kNFreq) {
    in.fail("mel filter bank is " + std::to_string(n_mel) + " x " + std::to_string(n_fft) +
            ", expected " + std::to_string(dims.n_mels) + " x " + std::to_string(kNFreq));
  }
  const std::size_t n_filter = static_cast<std::size_t>(n_mel) * kNFreq;
  auto filter_bytes = in.take(n_filter * sizeof(float), "mel filters");
  std::vector<float> filters(n_filter);
  convert_to_f32(GgmlType::kF32, filter_bytes.data(), n_filter, filters.data());

  const std::int32_t n_tokens = in.i32("vocabulary size");
  if (n_tokens < 0 || n_tokens > dims.n_vocab) {
    in.fail("vocabulary stores " + std::to_string(n_tokens) + " tokens, n_vocab is " +
            std::to_string(dims.n_vocab));
  }
  // Each entry takes at least its 4-byte length: check before reserving.
  if (static_cast<std::size_t>(n_tokens) * 4 > in.remaining()) {
    in.fail("truncated: vocabulary of " + std::to_string(n_tokens) + " tokens runs past end");
  }
  std::vector<std::string> vocab;
  vocab.reserve(static_cast<std::size_t>(n_tokens));
  for (std::int32_t i = 0; i < n_tokens; ++i) {
    const std::uint32_t len = in.u32("token length");
    auto token = in.take(len, "token " + std::to_string(i));
    vocab.emplace_back(token.begin(), token.end());
  }

  ModelWeights weights;
  SlotTable table = expected_tensors(dims, weights);
  bool used_in_place = false;
  while (in.remaining() > 0) {
    used_in_place |= read_tensor(in, table, quantization_version, owner != nullptr);
  }
  int missing = 0;
  std::string first_missing;
  for (const auto& [name, slot] : table.slots()) {
    if (slot.seen) {
      continue;
    }
    if (missing++ == 0) {
      first_missing = name;
    }
  }
  if (missing > 0) {
    in.fail("missing tensor '" + first_missing + "'" +
            (missing > 1 ? " (and " + std::to_string(missing - 1) + " more)" : std::string()));
  }
  if (precision == Precision::kInt8) {
    quantize_products(weights, release_bytes);
  }
  if (!used_in_place) {
    owner.reset();  // every tensor was converted: the file (mapped or read) can go now
  }
  return std::make_shared<const Model>(dims, std::move(filters), std::move(vocab),
                                       std::move(weights), std::move(owner), precision);
}

std::int64_t Tensor::elements() const {
  std::int64_t n = 1;
  for (auto v : shape) {
    n *= v;
  }
  return n;
}

void Tensor::row_to_f32(std::int64_t row, float* out) const {
  const std::int64_t cols = shape.size() > 1 ? shape[1] : elements();
  if (f16 != nullptr) {
    convert_to_f32(GgmlType::kF16, f16 + 2 * row * cols, static_cast<std::size_t>(cols), out);
  } else {
    std::memcpy(out, data.data() + row * cols, static_cast<std::size_t>(cols) * sizeof(float));
  }
}

std::vector<float> Tensor::to_f32() const {
  if (f16 == nullptr) {
    return data;
  }
  std::vector<float> out(static_cast<std::size_t>(elements()));
  convert_to_f32(GgmlType::kF16, f16, out.size(), out.data());
  return out;
}

}  // namespace whisper

namespace {

// The whole file as bytes: memory-mapped (pages are read on first touch and shared with the
// page cache) or read into memory. Owned by the model, whose f16 matrices point into it.
class FileBytes {
 public:
  FileBytes(const std::filesystem::path& path, bool use_mmap) {
    if (!use_mmap) {
      std::ifstream file(path, std::ios::binary);
      if (!file) {
        fail_io(path, "cannot open");
      }
      buffer_.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
      if (file.bad()) {
        fail_io(path, "cannot read");
      }
      return;
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fail_io(path, "cannot open");
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      errno = err;
      fail_io(path, "cannot stat");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (map == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        errno = err;
        fail_io(path, "cannot map");
      }
      map_ = map;
      // Read front to back at load and, for an f16 file, kept and read layer by layer for
      // every window: read ahead now, but no MADV_SEQUENTIAL (which lets pages go early).
      ::madvise(map_, size_, MADV_WILLNEED);
    }
    ::close(fd);
  }
  ~FileBytes() {
    if (map_ != nullptr) {
      ::munmap(map_, size_);
    }
  }
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;

  // Lets the kernel drop this process's resident pages of part of the mapping (they stay in
  // the page cache, and a later read maps them back; the mapping is private and never
  // written): after an int8 load only token-embedding rows of the file are read again.
  void release_resident_pages(const std::uint8_t* begin, std::size_t count) const {
    if (map_ == nullptr || count == 0) {
      return;
    }
    // Whole pages inside [begin, begin + count) only: a neighbour's bytes stay mapped.
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto first = (reinterpret_cast<std::uintptr_t>(begin) + page - 1) / page * page;
    const auto last = (reinterpret_cast<std::uintptr_t>(begin) + count) / page * page;
    if (first < last) {
      ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
    }
  }

  std::span<const std::uint8_t> bytes() const {
    if (map_ != nullptr) {
      return {static_cast<const std::uint8_t*>(map_), size_};
    }
    return {reinterpret_cast<const std::uint8_t*>(buffer_.data()), buffer_.size()};
  }

 private:
  [[noreturn]] static void fail_io(const std::filesystem::path& path, const char* what) {
    throw Error(ErrorCode::kIo, path.string() + ": " + what + ": " + std::strerror(errno));
  }

  void* map_ = nullptr;
  std::size_t size_ = 0;
  std::vector<char> buffer_;
};

}  // namespace

std::shared_ptr<const Model> load_model(const std::filesystem::path& path,
                                        const ModelLoadOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(ErrorCode::kIo, path.string() + ": is a directory, not a model file");
  }
  // The model keeps the file (mapped or read) alive: its f16 matrices are used in place.
  auto file = std::make_shared<const FileBytes>(path, options.use_mmap);
  const auto bytes = file->bytes();
  whisper::ReleaseBytes release;
  if (options.use_mmap) {
    release = [&file](const std::uint8_t* begin, std::size_t count) {
      file->release_resident_pages(begin, count);
    };
  }
  return whisper::parse_model(bytes, path.string(), file, options.precision, release);
}

Model::~Model() = default;

const ModelDims& model_dims(const Model& model) {
  return model.dims();
}

Precision model_precision(const Model& model) {
  return model.precision();
}

std::optional<Precision> parse_precision(std::string_view name) {
  if (name == "fp32") {
    return Precision::kFp32;
  }
  if (name == "int8") {
    return Precision::kInt8;
  }
  return std::nullopt;
}

const char* precision_name(Precision precision) {
  return precision == Precision::kInt8 ? "int8" : "fp32";
}

bool model_is_multilingual(const Model& model) {
  return model.multilingual();
}

}  // namespace earshot
