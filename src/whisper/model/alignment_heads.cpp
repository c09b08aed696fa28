#include "whisper/model/alignment_heads.h"

#include <zlib.h>

#include <array>
#include <cstdint>

#include "earshot/error.h"

namespace earshot::whisper {
namespace {

struct OfficialModel {
  std::string_view name;
  int n_vocab;
  int n_text_state;
  int n_text_layer;
  std::string_view mask;  // OpenAI's _ALIGNMENT_HEADS entry
};

// Published with OpenAI's reference implementation (whisper/__init__.py).
constexpr std::array<OfficialModel, 12> kOfficialModels{{
    {"tiny.en", 51864, 384, 4, "ABzY8J1N>@0{>%R00Bk>$p{7v037`oCl~+#00"},
    {"tiny", 51865, 384, 4, "ABzY8bu8Lr0{>%RKn9Fp%m@SkK7Kt=7ytkO"},
    {"base.en", 51864, 512, 6, "ABzY8;40c<0{>%RzzG;p*o+Vo09|#PsxSZm00"},
    {"base", 51865, 512, 6, "ABzY8KQ!870{>%RzyTQH3`Q^yNP!>##QT-<FaQ7m"},
    {"small.en", 51864, 768, 12, "ABzY8>?_)10{>%RpeA61k&I|OI3I$65C{;;pbCHh0B{qLQ;+}v00"},
    {"small", 51865, 768, 12, "ABzY8DmU6=0{>%Rpa?J`kvJ6qF(V^F86#Xh7JUGMK}P<N0000"},
    {"medium.en", 51864, 1024, 24,
     "ABzY8usPae0{>%R7<zz_OvQ{)4kMa0BMw6u5rT}kRKX;$NfYBv00*Hl@qhsU00"},
    {"medium", 51865, 1024, 24, "ABzY8B0Jh+0{>%R7}kK1fFL7w6%<-Pf*t^=N)Qr&0RR9"},
    {"large-v2", 51865, 1280, 32,
     "ABzY8zd+h!0{>%R7=D0pU<_bnWW*tkYAhobTNnu$jnkEkXqp)j;w1Tzk)UH3X%SZd&fFZ2fC2yj"},
    {"large-v3", 51866, 1280, 32, "ABzY8gWO1E0{>%R7(9S+Kn!D~%ngiGaR?*L!iJG9p-nab0JQ=-{D1-g00"},
    {"large-v3-turbo", 51866, 1280, 4, "ABzY8j^C+e0{>%RARaKHP%t(lGR*)0g!tONPyhe`"},
    // large-v1 ("ABzY8r9j$a0{>%R7#4sLmoOs{s)o3~84-RPdcFk!JR<kSfC2yj") cannot be told from v2.
    {"", 0, 0, 0, ""},
}};

constexpr std::string_view kBase85Alphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";

const OfficialModel* find_official(const ModelDims& dims) {
  for (const OfficialModel& m : kOfficialModels) {
    if (!m.name.empty() && m.n_vocab == dims.n_vocab && m.n_text_state == dims.n_text_state &&
        m.n_text_layer == dims.n_text_layer) {
      return &m;
    }
  }
  return nullptr;
}

std::string gunzip(std::string_view data) {
  z_stream stream{};
  // 16 + MAX_WBITS: a gzip header and trailer around the deflate stream.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    throw Error(ErrorCode::kInternal, "zlib inflateInit2 failed");
  }
  std::string out;
  std::array<char, 4096> buffer{};
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer.data());
    stream.avail_out = static_cast<uInt>(buffer.size());
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer.data(), buffer.size() - stream.avail_out);
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) {
    throw Error(ErrorCode::kInternal, "alignment head mask does not inflate");
  }
  return out;
}

}  // namespace

std::string base85_decode(std::string_view text) {
  std::string out;
  const std::size_t padding = (5 - text.size() % 5) % 5;
  std::string padded(text);
  padded.append(padding, '~');
  for (std::size_t i = 0; i < padded.size(); i += 5) {
    std::uint64_t value = 0;
    for (std::size_t j = 0; j < 5; ++j) {
      const std::size_t digit = kBase85Alphabet.find(padded[i + j]);
      if (digit == std::string_view::npos) {
        throw Error(ErrorCode::kInvalidArgument, "base85: unexpected character");
      }
      value = value * 85 + digit;
    }
    if (value > 0xFFFFFFFFull) {
      throw Error(ErrorCode::kInvalidArgument, "base85: group overflows 32 bits");
    }
    for (int shift = 24; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((value >> shift) & 0xFF));
    }
  }
  out.resize(out.size() - padding);
  return out;
}

AlignmentHeads decode_alignment_mask(std::string_view base85, int layers, int heads) {
  const std::string mask = gunzip(base85_decode(base85));
  if (mask.size() != static_cast<std::size_t>(layers) * static_cast<std::size_t>(heads)) {
    throw Error(ErrorCode::kInternal, "alignment head mask of " + std::to_string(mask.size()) +
                                          " entries for " + std::to_string(layers) + " x " +
                                          std::to_string(heads) + " heads");
  }
  AlignmentHeads out;
  for (int l = 0; l < layers; ++l) {
    for (int h = 0; h < heads; ++h) {
      if (mask[static_cast<std::size_t>(l) * static_cast<std::size_t>(heads) +
               static_cast<std::size_t>(h)] != 0) {
        out.emplace_back(l, h);
      }
    }
  }
  return out;
}

std::optional<std::string_view> official_model_name(const ModelDims& dims) {
  const OfficialModel* m = find_official(dims);
  return m != nullptr ? std::optional(m->name) : std::nullopt;
}

AlignmentHeads alignment_heads(const ModelDims& dims) {
  if (const OfficialModel* m = find_official(dims); m != nullptr) {
    try {
      return decode_alignment_mask(m->mask, dims.n_text_layer, dims.n_text_head);
    } catch (const Error&) {
      // Official width and depth with another head count: not that model after all.
    }
  }
  // Whisper.__init__: alignment_heads[n_text_layer // 2 :] = True.
  AlignmentHeads out;
  for (int l = dims.n_text_layer / 2; l < dims.n_text_layer; ++l) {
    for (int h = 0; h < dims.n_text_head; ++h) {
      out.emplace_back(l, h);
    }
  }
  return out;
}

}  // namespace earshot::whisper
