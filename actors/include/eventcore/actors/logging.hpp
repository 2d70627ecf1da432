#pragma once

// The runtime's log, through spdlog (kept out of this header so that actor
// translation units stay light). Lines go to stderr as text or, with
// LogFormat::json (or EVENTCORE_LOG_FORMAT=json), as one JSON object per line:
//   {"time":"2024-05-01T12:00:00.123456+00:00","level":"debug","logger":"eventcore",
//    "msg":"command","command":"TransferMoney","outcome":"ok","attempts":1,...}
// Every finished command is logged once with its phase timings: at debug
// when it went through or was rejected by the domain, at info otherwise.
// Never pass a connection string to these functions unredacted
// (eventcore::redact_conninfo).

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <utility>
#include <variant>
#include <optional>
#include <string>
#include <string_view>

#include "eventcore/store/result.hpp"

namespace eventcore {

enum class LogFormat { text, json };
enum class LogLevel { trace, debug, info, warn, error, off };

struct LogConfig {
  LogFormat format = LogFormat::text;
  LogLevel level = LogLevel::info;
};

Result<LogFormat> parse_log_format(std::string_view text);  // "text" | "json"
Result<LogLevel> parse_log_level(std::string_view text);    // "trace" ... "off"

// The defaults, overridden by EVENTCORE_LOG_FORMAT and EVENTCORE_LOG_LEVEL
// when set (an unparsable value is an error naming the variable).
Result<LogConfig> log_config_from_env(LogConfig defaults = {});

// Sets up the process-wide "eventcore" logger. Call once at startup, before
// any executor runs; without it the logger logs text at warn (a library
// stays quiet until the app asks for its log: command lines are debug/info).
void configure_logging(const LogConfig& config);

void log_message(LogLevel level, std::string_view message);

// A line with fields: in JSON, members beside "msg"; in text, key=value
// after the message (strings quoted and escaped when they need it), e.g.
//   log_fields(LogLevel::info, "request", {{"method", "POST"}, {"status", 201}, {"latency_ms", 1.7}});
using LogValue = std::variant<std::string_view, std::int64_t, double, bool>;
using LogField = std::pair<std::string_view, LogValue>;
void log_fields(LogLevel level, std::string_view message, std::initializer_list<LogField> fields);

namespace detail {
// Whether a command line at `level` would be written (cheap; checked before
// any formatting on the command path).
bool log_enabled(LogLevel level) noexcept;

struct CommandLogLine {
  std::string_view command;
  std::string_view outcome;  // "ok", "replayed" or a CommandErrorCode name
  std::size_t attempts = 0;
  std::size_t events_written = 0;
  std::chrono::nanoseconds prepare{}, reconstruct{}, handle{}, write{}, total{};
  std::string_view error;  // the error message, when there is one
};
void log_command(LogLevel level, const CommandLogLine& line);
}  // namespace detail

}  // namespace eventcore
