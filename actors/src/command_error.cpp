#include "eventcore/actors/command_error.hpp"

namespace eventcore {

std::string_view to_string(CommandErrorCode code) noexcept {
  switch (code) {
    case CommandErrorCode::validation_failed: return "validation_failed";
    case CommandErrorCode::concurrency_conflict: return "concurrency_conflict";
    case CommandErrorCode::undeclared_stream: return "undeclared_stream";
    case CommandErrorCode::stream_discovery_limit: return "stream_discovery_limit";
    case CommandErrorCode::store_unavailable: return "store_unavailable";
    case CommandErrorCode::store_failed: return "store_failed";
    case CommandErrorCode::timeout: return "timeout";
    case CommandErrorCode::invalid_command: return "invalid_command";
  }
  return "unknown";
}

std::string to_string(const CommandError& error) {
  std::string out(to_string(error.code));
  out += ": " + error.command + " on [";
  for (std::size_t i = 0; i < error.streams.size(); ++i) out += (i ? ", " : "") + error.streams[i].str();
  out += "] after " + std::to_string(error.attempts) + " attempt(s): " + error.message;
  if (error.cause) out += " (cause: " + to_string(*error.cause) + ")";
  return out;
}

}  // namespace eventcore
