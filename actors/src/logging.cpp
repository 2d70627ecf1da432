// The logging facade's only spdlog translation unit.

#include "eventcore/actors/logging.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

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

void json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

std::string micros(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(d.count()) / 1000.0);
  return buf;
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
  if (current_format.load(std::memory_order_relaxed) == LogFormat::json) {
    std::string body = "\"msg\":";
    json_string(body, message);
    log.log(to_spdlog(level), "{}", body);
  } else {
    log.log(to_spdlog(level), "{}", message);
  }
}

namespace detail {

bool log_enabled(LogLevel level) noexcept { return logger().should_log(to_spdlog(level)); }

void log_command(LogLevel level, const CommandLogLine& line) {
  auto& log = logger();
  if (!log.should_log(to_spdlog(level))) return;
  std::string body;
  if (current_format.load(std::memory_order_relaxed) == LogFormat::json) {
    body = "\"msg\":\"command\",\"command\":";
    json_string(body, line.command);
    body += ",\"outcome\":";
    json_string(body, line.outcome);
    body += ",\"attempts\":" + std::to_string(line.attempts) + ",\"events\":" + std::to_string(line.events_written) +
            ",\"prepare_us\":" + micros(line.prepare) + ",\"reconstruct_us\":" + micros(line.reconstruct) +
            ",\"handle_us\":" + micros(line.handle) + ",\"write_us\":" + micros(line.write) +
            ",\"total_us\":" + micros(line.total);
    if (!line.error.empty()) {
      body += ",\"error\":";
      json_string(body, line.error);
    }
  } else {
    body = "command " + std::string(line.command) + " " + std::string(line.outcome) +
           " attempts=" + std::to_string(line.attempts) + " events=" + std::to_string(line.events_written) +
           " prepare_us=" + micros(line.prepare) + " reconstruct_us=" + micros(line.reconstruct) +
           " handle_us=" + micros(line.handle) + " write_us=" + micros(line.write) + " total_us=" + micros(line.total);
    if (!line.error.empty()) body += " error=\"" + std::string(line.error) + "\"";
  }
  log.log(to_spdlog(level), "{}", body);
}

}  // namespace detail
}  // namespace eventcore
