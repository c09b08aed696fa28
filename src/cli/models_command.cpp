#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "models/catalog.h"
#include "models/download.h"

namespace earshot::cli {
namespace {

struct ModelsFlags {
  std::string name;
  std::string dir;
  std::string base_url = std::string(models::kDefaultBaseUrl);
  std::string sha256;
  bool no_verify = false;
  bool force = false;
  bool available = false;
};

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (b >= 1024 && u < 3) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", b, units[u]);
  return buf;
}

int download(const ModelsFlags& f) {
  const auto dir = models::cache_dir(f.dir);
  const auto* vad = models::find_in_vad_catalog(f.name);
  const auto destination =
      dir / (vad != nullptr ? models::vad_file_name_for(f.name) : models::file_name_for(f.name));
  const auto* entry = models::find_in_catalog(f.name);
  if (entry == nullptr && vad == nullptr && f.base_url == models::kDefaultBaseUrl) {
    std::cerr << "earshot: '" << f.name
              << "' is not an official model name; `earshot models list --available` lists them\n";
    return 2;
  }
  std::error_code ec;
  if (std::filesystem::exists(destination, ec) && !f.force) {
    std::cout << destination.string() << " is already downloaded (use --force to fetch it again)\n";
    return 0;
  }
  models::DownloadOptions o;
  o.url = f.base_url + "/" + models::file_name_for(f.name);
  o.destination = destination;
  if (entry != nullptr && !f.no_verify) o.expected_sha1 = std::string(entry->sha1);
  o.expected_sha256 = f.sha256;
  if (vad != nullptr) {
    // The VAD file comes from its own project; --base-url still redirects it (a mirror
    // serving the same file name), and its checksum is always known.
    o.url = f.base_url == models::kDefaultBaseUrl
                ? std::string(vad->url)
                : f.base_url + "/" + std::string(vad->url.substr(vad->url.rfind('/') + 1));
    if (o.expected_sha256.empty() && !f.no_verify) o.expected_sha256 = std::string(vad->sha256);
  }
  o.require_checksum = !f.no_verify;
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  int last_percent = -1;
  if (tty) {
    o.on_progress = [&](std::uint64_t now, std::uint64_t total) {
      const int percent =
          static_cast<int>(100.0 * static_cast<double>(now) / static_cast<double>(total));
      if (percent == last_percent) return;
      last_percent = percent;
      const int width = 40;
      const int filled = percent * width / 100;
      std::fprintf(stderr, "\r%s [%.*s%*s] %3d%% %s / %s", f.name.c_str(), filled,
                   "========================================", width - filled, "", percent,
                   human_bytes(static_cast<double>(now)).c_str(),
                   human_bytes(static_cast<double>(total)).c_str());
      std::fflush(stderr);
    };
  }
  std::cerr << "downloading " << o.url << "\n";
  try {
    const auto r = models::download_file(o);
    if (tty) std::fprintf(stderr, "\n");
    std::cout
        << "saved " << destination.string() << " (" << human_bytes(static_cast<double>(r.bytes))
        << (r.resumed ? ", resumed" : "")
        << (r.verified_with.empty() ? ", not verified" : ", " + r.verified_with + " verified")
        << ")\n"
        << (vad != nullptr
                ? "serve and transcribe use it for --vad; see it work with: earshot vad FILE\n"
                : "start the server with: earshot serve --model " + f.name + "\n");
    return 0;
  } catch (const models::DownloadError& e) {
    if (tty) std::fprintf(stderr, "\n");
    std::cerr << "earshot: " << e.what() << "\n";
    return 1;
  }
}

int list(const ModelsFlags& f) {
  const auto dir = models::cache_dir(f.dir);
  if (f.available) {
    for (const auto& e : models::catalog()) {
      std::cout << e.name << (e.size.empty() ? "" : "\t" + std::string(e.size)) << "\n";
    }
    for (const auto& e : models::vad_catalog()) {
      std::cout << e.name << "\t" << e.size << "\t(voice activity)\n";
    }
    return 0;
  }
  const auto cached = models::list_cached(dir);
  if (cached.empty()) {
    std::cout << "no models in " << dir.string()
              << "; get one with `earshot models download base.en`\n";
    return 0;
  }
  for (const auto& m : cached) {
    std::cout << m.name << "\t" << human_bytes(static_cast<double>(m.bytes)) << "\t"
              << m.path.string() << "\n";
  }
  return 0;
}

}  // namespace

void add_models_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "models", "Download and list model files (ggml Whisper models, the Silero VAD)");
  cmd->require_subcommand(1);
  auto flags = std::make_shared<ModelsFlags>();

  auto* dl =
      cmd->add_subcommand("download", "Fetch an official model file into the model directory");
  dl->add_option("name", flags->name,
                 "Model name, e.g. base.en, small, large-v3-turbo, or silero-vad")
      ->required();
  dl->add_option("--dir", flags->dir,
                 "Model directory (default: $EARSHOT_MODEL_DIR or ~/.cache/earshot/models)");
  dl->add_option("--base-url", flags->base_url, "Where the files are served from");
  dl->add_option("--sha256", flags->sha256, "Expected SHA-256 of the file (hex)");
  dl->add_flag("--no-verify", flags->no_verify,
               "Accept a file without a checksum to verify it against");
  dl->add_flag("--force", flags->force, "Download again even if the file is present");
  dl->callback([flags, &exit_code] { exit_code = download(*flags); });

  auto* ls = cmd->add_subcommand("list", "Show the models in the model directory");
  ls->add_option("--dir", flags->dir, "Model directory");
  ls->add_flag("--available", flags->available, "List the official model names instead");
  ls->callback([flags, &exit_code] { exit_code = list(*flags); });
}

}  // namespace earshot::cli
