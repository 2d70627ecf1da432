#include "eventcore/actors/remote.hpp"

namespace eventcore {

Result<Endpoint> Endpoint::parse(std::string_view text) {
  const auto bad = [&] {
    return Error{ErrorCode::invalid_argument, "'" + std::string(text) + "' is not HOST:PORT (port 0 to 65535)"};
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  auto host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const auto digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5) return bad();
  unsigned port = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return bad();
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port > 65535) return bad();
  return Endpoint{std::string(host), static_cast<std::uint16_t>(port)};
}

}  // namespace eventcore
