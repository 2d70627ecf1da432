#include "eventcore/store/stream_id.hpp"

#include <string>

namespace eventcore {

namespace {
std::string hex_byte(unsigned value) {
  static constexpr char digits[] = "0123456789abcdef";
  return std::string("0x") + digits[(value >> 4) & 15] + digits[value & 15];
}

// The length of the well-formed UTF-8 sequence at value[i] (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0 when the bytes
// there are not one. Stores the code point in *code_point.
std::size_t utf8_sequence(std::string_view value, std::size_t i, char32_t* code_point) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(value[i + k]); };
  const unsigned char lead = byte(0);
  std::size_t length;
  char32_t cp, min;
  if (lead < 0x80) { *code_point = lead; return 1; }
  if (lead >= 0xc2 && lead <= 0xdf) { length = 2; cp = lead & 0x1f; min = 0x80; }
  else if (lead >= 0xe0 && lead <= 0xef) { length = 3; cp = lead & 0x0f; min = 0x800; }
  else if (lead >= 0xf0 && lead <= 0xf4) { length = 4; cp = lead & 0x07; min = 0x10000; }
  else return 0;
  if (i + length > value.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  *code_point = cp;
  return length;
}
}  // namespace

Result<StreamId> StreamId::try_new(std::string_view value) {
  if (value.empty()) return Error{ErrorCode::invalid_argument, "stream id must not be empty"};
  if (value.size() > max_bytes)
    return Error{ErrorCode::invalid_argument, "stream id is " + std::to_string(value.size()) +
                                                  " bytes long, at most " + std::to_string(max_bytes) +
                                                  " allowed"};
  for (std::size_t i = 0; i < value.size();) {
    char32_t c = 0;
    const std::size_t length = utf8_sequence(value, i, &c);
    if (length == 0)
      return Error{ErrorCode::invalid_argument,
                   "stream id is not valid UTF-8 at byte " + std::to_string(i)};
    // C0, DEL and C1 (U+0080..U+009F) are all control characters.
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
      return Error{ErrorCode::invalid_argument, "stream id contains control character " +
                                                    hex_byte(static_cast<unsigned>(c)) +
                                                    " at byte " + std::to_string(i)};
    i += length;
  }
  return StreamId(std::string(value));
}

}  // namespace eventcore
