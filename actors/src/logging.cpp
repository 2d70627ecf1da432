// The logging facade's only spdlog translation unit.

#include "eventcore/actors/logging.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace eventcore {
namespace {

std::atomic<LogFormat> current_format{LogFormat::text};

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
    case LogLevel::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::shared_ptr<spdlog::logger> make_logger(LogFormat format, LogLevel level) {
  auto logger = std::make_shared<spdlog::logger>("eventcore", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  // In JSON mode the message body is already a list of JSON members.
  logger->set_pattern(format == LogFormat::json
                          ? R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l","logger":"%n",%v})"
                          : "%Y-%m-%d %H:%M:%S.%e %^%l%$ %n: %v");
  logger->set_level(to_spdlog(level));
  return logger;
}

// The current logger, read on every command: an atomic pointer, no registry
// lock. Loggers are kept alive for the life of the process (a few at most).
std::atomic<spdlog::logger*> current_logger{nullptr};
std::mutex loggers_mutex;
std::vector<std::shared_ptr<spdlog::logger>> loggers;

void install(std::shared_ptr<spdlog::logger> made) {
  std::lock_guard lock(loggers_mutex);
  spdlog::drop("eventcore");
  spdlog::register_logger(made);
  loggers.push_back(made);
  current_logger.store(made.get(), std::memory_order_release);
}

spdlog::logger& logger() {
  if (auto* log = current_logger.load(std::memory_order_acquire)) return *log;
  {
    std::lock_guard lock(loggers_mutex);
    if (auto* log = current_logger.load(std::memory_order_acquire)) return *log;
  }
  install(make_logger(LogFormat::text, LogLevel::warn));
  return *current_logger.load(std::memory_order_acquire);
}

double micros(std::chrono::nanoseconds d) { return static_cast<double>(d.count() / 100) / 10.0; }

// A text value as it appears after key=: bare when it is a plain word,
// else quoted and escaped as JSON (so an error message cannot forge fields
// or lines).
std::string text_value(std::string_view s) {
  const bool bare = !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '/' || c == ':' || c == '{' || c == '}';
  });
  return bare ? std::string(s) : nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// One line in the configured format: JSON members after the pattern's
// "time", "level" and "logger", or "message key=value...".
void write_line(spdlog::logger& log, LogLevel level, std::string_view message, const nlohmann::ordered_json& fields) {
  if (current_format.load(std::memory_order_relaxed) == LogFormat::json) {
    nlohmann::ordered_json body{{"msg", message}};
    body.update(fields);
    const std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // The pattern opens the object; the body's own braces go.
    log.log(to_spdlog(level), "{}", std::string_view(text).substr(1, text.size() - 2));
    return;
  }
  std::string line(message);
  for (const auto& [key, value] : fields.items()) {
    line += ' ' + key + '=';
    line += value.is_string() ? text_value(value.get_ref<const std::string&>())
                              : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  log.log(to_spdlog(level), "{}", line);
}

}  // namespace

Result<LogFormat> parse_log_format(std::string_view text) {
  if (text == "text") return LogFormat::text;
  if (text == "json") return LogFormat::json;
  return Error{ErrorCode::invalid_argument, "'" + std::string(text) + "' is no log format (text or json)"};
}

Result<LogLevel> parse_log_level(std::string_view text) {
  static constexpr std::pair<std::string_view, LogLevel> levels[] = {
      {"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info},
      {"warn", LogLevel::warn},   {"error", LogLevel::error}, {"off", LogLevel::off}};
  for (const auto& [name, level] : levels)
    if (text == name) return level;
  return Error{ErrorCode::invalid_argument,
               "'" + std::string(text) + "' is no log level (trace, debug, info, warn, error, off)"};
}

Result<LogConfig> log_config_from_env(LogConfig config) {
  if (const char* format = std::getenv("EVENTCORE_LOG_FORMAT"); format && *format) {
    auto parsed = parse_log_format(format);
    if (!parsed) return Error{ErrorCode::invalid_argument, "EVENTCORE_LOG_FORMAT: " + parsed.error().message};
    config.format = *parsed;
  }
  if (const char* level = std::getenv("EVENTCORE_LOG_LEVEL"); level && *level) {
    auto parsed = parse_log_level(level);
    if (!parsed) return Error{ErrorCode::invalid_argument, "EVENTCORE_LOG_LEVEL: " + parsed.error().message};
    config.level = *parsed;
  }
  return config;
}

void configure_logging(const LogConfig& config) {
  current_format.store(config.format, std::memory_order_relaxed);
  install(make_logger(config.format, config.level));
}

void log_message(LogLevel level, std::string_view message) {
  auto& log = logger();
  if (!log.should_log(to_spdlog(level))) return;
  write_line(log, level, message, nlohmann::ordered_json::object());
}

void log_fields(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  auto& log = logger();
  if (!log.should_log(to_spdlog(level))) return;
  nlohmann::ordered_json members = nlohmann::ordered_json::object();
  for (const auto& [key, value] : fields)
    std::visit([&, k = std::string(key)](const auto& v) { members[k] = v; }, value);
  write_line(log, level, message, members);
}

namespace detail {

bool log_enabled(LogLevel level) noexcept { return logger().should_log(to_spdlog(level)); }

void log_command(LogLevel level, const CommandLogLine& line) {
  auto& log = logger();
  if (!log.should_log(to_spdlog(level))) return;
  nlohmann::ordered_json fields{{"command", line.command},
                                {"outcome", line.outcome},
                                {"attempts", line.attempts},
                                {"events", line.events_written},
                                {"prepare_us", micros(line.prepare)},
                                {"reconstruct_us", micros(line.reconstruct)},
                                {"handle_us", micros(line.handle)},
                                {"write_us", micros(line.write)},
                                {"total_us", micros(line.total)}};
  if (!line.error.empty()) fields["error"] = line.error;
  write_line(log, level, "command", fields);
}

}  // namespace detail
}  // namespace eventcore
