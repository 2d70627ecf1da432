#pragma once

// A progress line on stderr for long commands (rebuild): events done of a
// total, the rate and the time left. On a terminal it redraws one line; into
// a file or a pipe it writes a line at most once a second, so logs stay short.
//
//   rebuild event_counts [##########----------]  52%  520,113/1,000,000 events  81,245/s  ETA 6s

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace eventcore::cli {

class Progress {
 public:
  Progress(std::FILE* out, std::string label, std::uint64_t total);
  // Redraws (on a terminal) or writes a line (else, at most once a second).
  void update(std::uint64_t done, double per_second);
  // The final line, always written.
  void finish(std::uint64_t done, double per_second);

  // The line itself, for tests: "<label> [bar] pct  done/total events  rate/s  ETA t".
  static std::string render(const std::string& label, std::uint64_t done, std::uint64_t total, double per_second);

 private:
  std::FILE* out_;
  std::string label_;
  std::uint64_t total_;
  bool terminal_;
  std::chrono::steady_clock::time_point last_line_{};
};

}  // namespace eventcore::cli
