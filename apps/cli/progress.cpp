#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace eventcore::cli {

namespace {

// 1234567 -> "1,234,567"
std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string duration(double seconds) {
  const auto s = static_cast<std::uint64_t>(std::llround(seconds));
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
}

}  // namespace

Progress::Progress(std::FILE* out, std::string label, std::uint64_t total)
    : out_(out), label_(std::move(label)), total_(total), terminal_(isatty(fileno(out)) == 1) {}

std::string Progress::render(const std::string& label, std::uint64_t done, std::uint64_t total, double per_second) {
  constexpr int width = 20;
  const double fraction = total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  const int filled = static_cast<int>(fraction * width);
  std::string line = label + " [" + std::string(static_cast<std::size_t>(filled), '#') +
                     std::string(static_cast<std::size_t>(width - filled), '-') + "] ";
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(fraction * 100));
  line += pct;
  line += "  " + grouped(done) + "/" + grouped(std::max(done, total)) + " events  " +
          grouped(static_cast<std::uint64_t>(std::max(0.0, per_second))) + "/s";
  if (per_second > 0 && done < total) line += "  ETA " + duration(static_cast<double>(total - done) / per_second);
  return line;
}

void Progress::update(std::uint64_t done, double per_second) {
  const auto now = std::chrono::steady_clock::now();
  if (terminal_) {
    std::fprintf(out_, "\r%s\033[K", render(label_, done, total_, per_second).c_str());
  } else if (now - last_line_ >= std::chrono::seconds(1)) {
    std::fprintf(out_, "%s\n", render(label_, done, total_, per_second).c_str());
    last_line_ = now;
  }
  std::fflush(out_);
}

void Progress::finish(std::uint64_t done, double per_second) {
  std::fprintf(out_, terminal_ ? "\r%s\033[K\n" : "%s\n", render(label_, done, std::max(done, total_), per_second).c_str());
  std::fflush(out_);
}

}  // namespace eventcore::cli
