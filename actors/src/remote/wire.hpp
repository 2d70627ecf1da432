#pragma once

// What crosses the network besides the command itself: its options and its
// result, as cereal binary. Both sides of a connection run the same wire
// version (the handshake's app identifier says which), so the layout has no
// per-field versioning; change kWireVersion when it changes.

#include <string>
#include <string_view>

#include "eventcore/actors/command.hpp"
#include "eventcore/actors/command_result.hpp"

namespace eventcore::remote {

// The handshake refuses a peer whose identifier differs.
inline constexpr std::string_view kWireVersion = "eventcore-wire-1";

std::string encode_options(const ExecuteOptions& options);
// Throws std::exception on bytes that do not decode.
ExecuteOptions decode_options(std::string_view bytes);

std::string encode_result(const ExecuteResult& result);
// Throws std::exception on bytes that do not decode.
ExecuteResult decode_result(std::string_view bytes);

}  // namespace eventcore::remote
