#include "eventcore/store/stream_id.hpp"

#include <string>

namespace eventcore {

Result<StreamId> StreamId::try_new(std::string_view value) {
  if (value.empty()) return Error{ErrorCode::invalid_argument, "stream id must not be empty"};
  if (value.size() > max_bytes)
    return Error{ErrorCode::invalid_argument, "stream id is " + std::to_string(value.size()) +
                                                  " bytes long, at most " + std::to_string(max_bytes) +
                                                  " allowed"};
  for (std::size_t i = 0; i < value.size(); ++i) {
    auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7f)
      return Error{ErrorCode::invalid_argument,
                   "stream id contains control character 0x" +
                       std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15] +
                       " at byte " + std::to_string(i)};
  }
  return StreamId(std::string(value));
}

}  // namespace eventcore
