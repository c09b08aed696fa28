#include "bench/engine_bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <sys/wait.h>

#include "bench/machine_peak.h"
#include "earshot/error.h"
#include "earshot/whisper.h"
#include "model_writer/model_writer.h"
#include "whisper/features/log_mel.h"
#include "whisper/kernels/gemm/gemm.h"
#include "whisper/kernels/kernels.h"
#include "whisper/model/model.h"
#include "whisper/network/state.h"
#include "whisper/network/step_batcher.h"

namespace earshot::bench {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Peak resident set of this process so far (getrusage reports KiB on Linux).
double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// Writes the random model in a child process, so that the writer's own memory (every tensor
// as f32 plus the serialised file) never counts towards this process's peak RSS.
bool write_random_model(const std::string& dims_name, const std::string& ftype,
                        const std::filesystem::path& path, std::ostream& err) {
  const auto dims = tools::preset_dims(dims_name);
  const auto type = tools::type_from_name(ftype);
  if (!dims || !type || (*type != tools::kTypeF16 && *type != tools::kTypeF32)) {
    err << "earshot bench: unknown --dims '" << dims_name << "' or --ftype '" << ftype << "'\n";
    return false;
  }
  err.flush();
  const pid_t child = fork();
  if (child < 0) {
    err << "earshot bench: fork failed\n";
    return false;
  }
  if (child == 0) {
    int code = 0;
    try {
      tools::ModelSpec spec;
      spec.dims = *dims;
      spec.dims.ftype = *type;
      spec.seed = 1;
      tools::write_model_file(tools::make_model(spec), path);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "earshot bench: cannot write %s: %s\n", path.c_str(), e.what());
      code = 1;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Multiply-adds x 2 of what WhisperState::encode does for one 30 s window: the two
// convolutions, per block Q/K/V/O, the MLP, QK^T and AV, and the decoder's cross-attention K/V
// (computed once per window inside encode()).
double encoder_gflop(const ModelDims& d) {
  const double ctx = d.n_audio_ctx;
  const double w = d.n_audio_state;
  const double conv = 2.0 * ctx * w * 3.0 * d.n_mels + ctx * w * 3.0 * w;
  const double block = 4.0 * ctx * w * w + 2.0 * ctx * w * 4.0 * w + 2.0 * ctx * ctx * w;
  const double cross = 2.0 * d.n_text_layer * ctx * d.n_text_state * d.n_text_state;
  return 2.0 * (conv + d.n_audio_layer * block + cross) * 1e-9;
}

// The encoder without the cross-attention K/V: the figure usually quoted for "the encoder".
double encoder_only_gflop(const ModelDims& d) {
  const double ctx = d.n_audio_ctx;
  return encoder_gflop(d) -
         2.0 * 2.0 * d.n_text_layer * ctx * d.n_text_state * d.n_text_state * 1e-9;
}

std::vector<float> test_audio(std::size_t n) {
  std::vector<float> samples(n);
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  for (std::size_t i = 0; i < n; ++i) {
    const float t = static_cast<float>(i) / 16000.0f;
    samples[i] = 0.2f * std::sin(2.0f * 3.14159265f * 220.0f * t) + noise(rng);
  }
  return samples;
}

std::vector<std::int32_t> start_sequence(const ModelDims& d) {
  // sot, <|en|>, <|transcribe|> (multilingual) or sot alone (.en), as tokenizer.py lays them out.
  if (d.n_vocab >= 51865) {
    return {50258, 50259, d.n_vocab >= 51866 ? 50360 : 50359};
  }
  return {std::min(50257, d.n_vocab - 1)};
}

std::int32_t argmax(const std::vector<float>& logits) {
  return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// Greedy decoding of `n_tokens` after the start sequence, whatever is chosen (end of text
// included: the cost per step does not depend on the token). Returns ms per sampled token.
double decode_tokens(whisper::WhisperState& state, const ModelDims& d, int n_tokens,
                     std::vector<float>& logits) {
  const auto prompt = start_sequence(d);
  state.truncate(0);
  state.decode(prompt, false, logits);
  const auto t0 = Clock::now();
  for (int i = 0; i < n_tokens; ++i) {
    const std::int32_t token = argmax(logits);
    state.decode(std::span<const std::int32_t>(&token, 1), false, logits);
  }
  return ms_since(t0) / std::max(1, n_tokens);
}

// Beam search's network cost: after the start sequence, `n_tokens` steps of 5 sequences
// batched through one decoder pass (WhisperState::fork / decode_batch / reorder), each step
// followed by what a beam step does with the logits besides ranking: a log-softmax
// normaliser and the best token per row, and a reorder of the beams (rotated, so that the
// K/V rows really are re-addressed). Returns ms per step (one token for each of the 5 beams).
double decode_beam5(whisper::WhisperState& state, const ModelDims& d, int n_tokens,
                    std::vector<float>& logits) {
  constexpr int kBeams = 5;
  const auto prompt = start_sequence(d);
  state.truncate(0);
  state.decode(prompt, false, logits);
  const auto t0 = Clock::now();
  state.fork(kBeams, n_tokens);
  std::vector<std::int32_t> next(kBeams, argmax(logits));
  std::vector<int> sources(kBeams);
  const auto n_vocab = static_cast<std::size_t>(d.n_vocab);
  for (int i = 0; i < n_tokens; ++i) {
    state.decode_batch(next, logits);
    for (std::size_t r = 0; r < kBeams; ++r) {
      const auto row = std::span<const float>(logits).subspan(r * n_vocab, n_vocab);
      const auto best = std::max_element(row.begin(), row.end());
      // The normaliser as the decoder computes it (whisper::sum_exp).
      const double sum = whisper::sum_exp(row.data(), static_cast<std::int64_t>(row.size()), *best);
      next[r] = static_cast<std::int32_t>(best - row.begin()) + (sum > 0.0 ? 0 : 1);
      sources[r] = static_cast<int>((r + 1 + static_cast<std::size_t>(i)) % kBeams);
    }
    state.reorder(sources);
  }
  return ms_since(t0) / std::max(1, n_tokens);
}

// A whole file with a fixed amount of decoding (the real-time-factor figure and the jobs of
// the concurrency figure): whole-file log-mel, then per window the encoder and `tokens`
// greedy decoder steps.
void run_file(whisper::WhisperState& state, const std::vector<float>& samples, int threads,
              int tokens) {
  const Model& model = state.model();
  const ModelDims& dims = model.dims();
  std::vector<float> logits;
  const auto whole = whisper::long_form_log_mel(samples, model.mel_filters(), dims.n_mels, threads);
  const int content_frames = static_cast<int>(samples.size()) / whisper::kHopLength;
  for (int seek = 0; seek < content_frames; seek += whisper::kChunkFrames) {
    state.encode(whisper::window_mel(whole, seek, content_frames).data);
    decode_tokens(state, dims, tokens, logits);
  }
}

struct ConcurrencyFigure {
  double sequential_s = 0;     // n jobs one after another, each with every thread
  double concurrent_s = 0;     // n jobs at once, the threads split, decoder steps batched
  double unbatched_s = 0;      // n jobs at once, the threads split, each step alone
  double steps_per_batch = 0;  // decoder steps per batch in the batched run
  double gather_s = 0;         // the batched run's leaders waiting for members' steps
  double batches_s = 0;        // the batched run's batches running
  int threads_per_job = 0;
};

// What the server's scheduler chooses between: `workers` = 1 with all threads per job, or
// `workers` = n with the threads split.
ConcurrencyFigure concurrency(const Model& model, int n, int threads, int tokens) {
  const auto samples = test_audio(static_cast<std::size_t>(60.0 * 16000.0));
  ConcurrencyFigure f;
  f.threads_per_job = std::max(1, threads / n);
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    whisper::WhisperState state(model, threads);
    run_file(state, samples, threads, tokens);
  }
  f.sequential_s = ms_since(t0) * 1e-3;
  // At once, as the server's workers run them: with the model's step batcher
  // (engine.batch_decoding), then without.
  const auto at_once = [&](whisper::StepBatcher* batcher) {
    const auto start = Clock::now();
    std::vector<std::thread> jobs;
    for (int i = 0; i < n; ++i) {
      jobs.emplace_back([&] {
        whisper::WhisperState state(model, f.threads_per_job, batcher);
        run_file(state, samples, f.threads_per_job, tokens);
      });
    }
    for (auto& job : jobs) {
      job.join();
    }
    return ms_since(start) * 1e-3;
  };
  auto& batcher = earshot::whisper::step_batcher_of(model);
  const auto before = batcher.stats();
  f.concurrent_s = at_once(&batcher);
  const auto after = batcher.stats();
  f.steps_per_batch =
      static_cast<double>(after.items - before.items) /
      static_cast<double>(std::max<std::uint64_t>(1, after.batches - before.batches));
  f.gather_s = after.gather_seconds - before.gather_seconds;
  f.batches_s = after.run_seconds - before.run_seconds;
  f.unbatched_s = at_once(nullptr);
  return f;
}

struct GemmFigure {
  std::string shape;
  double gflops = 0;
};

// The GEMM backend alone on the encoder's product shapes (x[1500 x k] @ w^T, w [n x k]).
std::vector<GemmFigure> gemm_throughput(const ModelDims& d, int threads, int repeats) {
  const std::int64_t m = d.n_audio_ctx;
  const std::int64_t w = d.n_audio_state;
  const std::vector<std::pair<std::int64_t, std::int64_t>> shapes = {
      {w, w}, {w, 4 * w}, {4 * w, w}};
  whisper::Gemm gemm(threads);
  std::vector<GemmFigure> figures;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (const auto& [k, n] : shapes) {
    std::vector<float> x(static_cast<std::size_t>(m * k));
    std::vector<float> wt(static_cast<std::size_t>(n * k));
    std::vector<float> y(static_cast<std::size_t>(m * n));
    for (auto& v : x) {
      v = dist(rng);
    }
    for (auto& v : wt) {
      v = dist(rng);
    }
    gemm.linear(x.data(), m, k, k, wt.data(), n, y.data(), n);
    std::vector<double> times;
    const int reps = std::max(3, repeats * 3);
    for (int r = 0; r < reps; ++r) {
      const auto t0 = Clock::now();
      gemm.linear(x.data(), m, k, k, wt.data(), n, y.data(), n);
      times.push_back(ms_since(t0));
    }
    const double gflop = 2.0 * static_cast<double>(m * k * n) * 1e-9;
    figures.push_back({std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n),
                       gflop / (median(times) * 1e-3)});
  }
  return figures;
}

struct MachinePeak {
  double fp32 = 0;
  double bf16 = 0;
  double int8 = 0;
};

}  // namespace

int run_bench(const BenchOptions& options, std::ostream& out, std::ostream& err) {
  const int repeats = options.quick ? 1 : std::max(1, options.repeats);
  const int tokens = options.quick ? 8 : std::max(1, options.tokens_per_window);
  const double peak_seconds = options.quick ? 0.02 : 0.3;
  const std::vector<double> durations =
      options.quick ? std::vector<double>{10.0} : std::vector<double>{10.0, 60.0, 600.0};
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<int> thread_counts = options.threads;
  if (thread_counts.empty()) {
    thread_counts.push_back(cores);
  }

  // The model first: the writer runs in a child process, before this one starts any thread.
  std::filesystem::path path;
  std::string model_name;
  std::optional<std::filesystem::path> remove_after;
  if (options.model_file) {
    path = *options.model_file;
    model_name = path.filename().string();
  } else {
    path = std::filesystem::temp_directory_path() /
           ("earshot-bench-" + options.dims + "-" + options.ftype + "-" + std::to_string(getpid()) +
            ".bin");
    model_name = options.dims;
    if (!write_random_model(options.dims, options.ftype, path, err)) {
      return 1;
    }
    remove_after = path;
  }

  const CpuInfo cpu = detect_cpu();
  std::map<int, MachinePeak> peaks;
  for (int t : thread_counts) {
    peaks[t] = {fp32_peak_gflops(cpu, t, peak_seconds), bf16_peak_gflops(cpu, t, peak_seconds),
                int8_peak_gops(cpu, t, peak_seconds)};
  }
  const double peak_one_core =
      peaks.contains(1) ? peaks[1].fp32 : fp32_peak_gflops(cpu, 1, peak_seconds);
  const double peak_all_cores =
      peaks.contains(cores) ? peaks[cores].fp32 : fp32_peak_gflops(cpu, cores, peak_seconds);
  if (!options.json) {
    out << "cpu: " << (cpu.model.empty() ? "unknown" : cpu.model) << " (" << cores
        << " cores; fp32 kernel " << fp32_peak_isa(cpu) << (cpu.avx512_bf16 ? ", bf16" : "")
        << (cpu.avx512_vnni ? ", vnni" : "") << ")\n";
    char line[256];
    std::snprintf(line, sizeof line, "fp32 FMA peak: %.1f GFLOP/s per core, %.1f on %d cores\n",
                  peak_one_core, peak_all_cores, cores);
    out << line;
    for (const auto& [t, p] : peaks) {
      std::snprintf(line, sizeof line,
                    "  %d thread(s): fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s, int8 %.1f GOP/s\n", t,
                    p.fp32, p.bf16, p.int8);
      out << line;
    }
  }

  std::shared_ptr<const Model> model;
  double load_ms = 0;
  try {
    const auto t0 = Clock::now();
    model = load_model(
        path, {.precision = parse_precision(options.precision).value_or(Precision::kFp32)});
    load_ms = ms_since(t0);
  } catch (const Error& e) {
    err << "earshot bench: " << e.what() << "\n";
    if (remove_after) {
      std::filesystem::remove(*remove_after);
    }
    return 1;
  }
  if (remove_after) {
    std::filesystem::remove(*remove_after);
  }
  const ModelDims& dims = model->dims();
  const double gflop = encoder_gflop(dims);

  for (int threads : thread_counts) {
    const MachinePeak& peak = peaks[threads];

    const auto audio = test_audio(static_cast<std::size_t>(whisper::kChunkSamples));
    std::vector<double> mel_times;
    whisper::LogMel mel;
    for (int r = 0; r < repeats + 1; ++r) {
      const auto t0 = Clock::now();
      mel = whisper::single_window_log_mel(audio, model->mel_filters(), dims.n_mels, threads);
      if (r > 0 || repeats == 1) {
        mel_times.push_back(ms_since(t0));
      }
    }

    whisper::WhisperState state(*model, threads);
    std::vector<double> enc_times;
    // One untimed window first: page faults and cold caches cost the first one 100-250 ms.
    for (int r = 0; r < repeats + 1; ++r) {
      const auto t0 = Clock::now();
      state.encode(mel.data);
      if (r > 0) {
        enc_times.push_back(ms_since(t0));
      }
    }
    const double encoder_ms = median(enc_times);
    std::vector<float> logits;
    std::vector<double> dec_times;
    for (int r = 0; r < repeats; ++r) {
      dec_times.push_back(decode_tokens(state, dims, tokens, logits));
    }
    const double decoder_ms = median(dec_times);
    std::vector<double> beam_times;
    for (int r = 0; r < repeats; ++r) {
      beam_times.push_back(decode_beam5(state, dims, tokens, logits));
    }
    const double beam5_ms = median(beam_times);
    const double rss_mb = peak_rss_mb();

    // After the RSS figure: its test matrices are the benchmark's, not the engine's.
    const auto gemm = gemm_throughput(dims, threads, repeats);
    double gemm_total = 0;
    for (const auto& g : gemm) {
      gemm_total += g.gflops;
    }
    const double gemm_mean = gemm_total / static_cast<double>(gemm.size());

    std::vector<std::pair<double, double>> rtf;
    for (double seconds : durations) {
      const auto samples = test_audio(static_cast<std::size_t>(seconds * 16000.0));
      const auto t0 = Clock::now();
      run_file(state, samples, threads, tokens);
      rtf.emplace_back(seconds, ms_since(t0) * 1e-3 / seconds);
    }

    std::optional<ConcurrencyFigure> jobs;
    if (options.concurrency > 1 && !options.quick) {
      jobs = concurrency(*model, options.concurrency, threads, tokens);
    }

    const double enc_gflops = gflop / (encoder_ms * 1e-3);
    if (options.json) {
      nlohmann::ordered_json j;
      j["model"] = model_name;
      j["threads"] = threads;
      j["cpu"] = cpu.model;
      j["n_audio_state"] = dims.n_audio_state;
      j["ftype"] = dims.ftype;
      j["precision"] = precision_name(model->precision());
      j["load_ms"] = load_ms;
      j["log_mel_ms"] = median(mel_times);
      j["encoder_ms"] = encoder_ms;
      j["encoder_gflop"] = gflop;
      j["encoder_only_gflop"] = encoder_only_gflop(dims);
      j["encoder_gflops"] = enc_gflops;
      j["encoder_fraction_of_peak"] = enc_gflops / peak.fp32;
      j["peak_fp32_gflops"] = peak.fp32;
      j["peak_fp32_gflops_per_core"] = peak_one_core;
      j["peak_bf16_gflops"] = peak.bf16;
      j["peak_int8_gops"] = peak.int8;
      j["gemm_gflops"] = gemm_mean;
      for (const auto& g : gemm) {
        j["gemm_gflops_" + g.shape] = g.gflops;
      }
      j["tokens_per_window"] = tokens;
      j["decoder_ms_per_token"] = decoder_ms;
      j["beam5_ms_per_token"] = beam5_ms;
      j["beam5_over_greedy"] = beam5_ms / decoder_ms;
      j["peak_rss_mb"] = rss_mb;
      for (const auto& [seconds, value] : rtf) {
        j["rtf_" + std::to_string(static_cast<int>(seconds)) + "s"] = value;
      }
      if (jobs) {
        j["concurrent_jobs"] = options.concurrency;
        j["jobs_sequential_s"] = jobs->sequential_s;
        j["jobs_concurrent_s"] = jobs->concurrent_s;
        j["jobs_concurrent_unbatched_s"] = jobs->unbatched_s;
        j["jobs_steps_per_batch"] = jobs->steps_per_batch;
        j["jobs_batch_gather_s"] = jobs->gather_s;
        j["jobs_batches_s"] = jobs->batches_s;
        j["jobs_threads_each"] = jobs->threads_per_job;
      }
      out << j.dump() << "\n";
    } else {
      char line[256];
      out << "\nmodel " << model_name << " (d " << dims.n_audio_state << ", " << dims.n_audio_layer
          << "+" << dims.n_text_layer << " layers, ftype " << dims.ftype << ", "
          << precision_name(model->precision()) << " products), " << threads << " thread(s)\n";
      std::snprintf(line, sizeof line, "  load                 %9.1f ms\n", load_ms);
      out << line;
      std::snprintf(line, sizeof line, "  log-mel, 30 s        %9.1f ms\n", median(mel_times));
      out << line;
      std::snprintf(line, sizeof line,
                    "  encoder, 30 s window %9.1f ms  (%.1f GFLOP: %.1f GFLOP/s, %.0f%% of the "
                    "%.1f GFLOP/s fp32 peak)\n",
                    encoder_ms, gflop, enc_gflops, 100.0 * enc_gflops / peak.fp32, peak.fp32);
      out << line;
      for (const auto& g : gemm) {
        std::snprintf(line, sizeof line, "  gemm %-16s %9.1f GFLOP/s\n", g.shape.c_str(), g.gflops);
        out << line;
      }
      std::snprintf(line, sizeof line, "  decoder, greedy      %9.2f ms/token (%d tokens)\n",
                    decoder_ms, tokens);
      out << line;
      std::snprintf(line, sizeof line,
                    "  decoder, beam 5      %9.2f ms/step (5 beams batched; %.2fx greedy)\n",
                    beam5_ms, beam5_ms / decoder_ms);
      out << line;
      std::snprintf(line, sizeof line, "  peak RSS             %9.1f MB (load + one window)\n",
                    rss_mb);
      out << line;
      for (const auto& [seconds, value] : rtf) {
        std::snprintf(line, sizeof line,
                      "  real-time factor %4.0f s audio: %.4f (%d tokens per window)\n", seconds,
                      value, tokens);
        out << line;
      }
      if (jobs) {
        std::snprintf(line, sizeof line,
                      "  %d jobs of 60 s audio: %.2f s one after another (%d threads each), "
                      "%.2f s at once (%d threads each): %.2fx\n",
                      options.concurrency, jobs->sequential_s, threads, jobs->concurrent_s,
                      jobs->threads_per_job, jobs->sequential_s / jobs->concurrent_s);
        out << line;
        std::snprintf(line, sizeof line,
                      "    (decoder steps batched, %.2f per batch, %.2f s running batches, %.2f s "
                      "gathering them; each step alone: %.2f s, %.2fx)\n",
                      jobs->steps_per_batch, jobs->batches_s, jobs->gather_s, jobs->unbatched_s,
                      jobs->sequential_s / jobs->unbatched_s);
        out << line;
      }
    }
    out.flush();
  }
  return 0;
}

}  // namespace earshot::bench
