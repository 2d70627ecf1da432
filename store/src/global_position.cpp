#include "eventcore/store/global_position.hpp"

#include <charconv>

namespace eventcore {

std::string to_string(const GlobalPosition& position) {
  return std::to_string(position.transaction) + ":" + std::to_string(position.sequence);
}

std::optional<GlobalPosition> parse_global_position(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view part, std::uint64_t& out) {
    if (part.empty()) return false;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), out);
    return error == std::errc{} && end == part.data() + part.size();
  };
  GlobalPosition position;
  if (!number(text.substr(0, colon), position.transaction) || !number(text.substr(colon + 1), position.sequence))
    return std::nullopt;
  return position;
}

}  // namespace eventcore
