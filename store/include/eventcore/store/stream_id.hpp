#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "eventcore/store/result.hpp"

namespace eventcore {

// The name of one event stream. A StreamId that exists is valid: non-empty, at
// most max_bytes bytes of UTF-8 and no control characters.
class StreamId {
 public:
  static constexpr std::size_t max_bytes = 255;

  static Result<StreamId> try_new(std::string_view value);

  const std::string& str() const noexcept { return value_; }
  bool starts_with(std::string_view prefix) const noexcept { return value_.starts_with(prefix); }

  friend bool operator==(const StreamId&, const StreamId&) = default;
  friend auto operator<=>(const StreamId&, const StreamId&) = default;

 private:
  explicit StreamId(std::string value) : value_(std::move(value)) {}
  std::string value_;
};

}  // namespace eventcore

template <>
struct std::hash<eventcore::StreamId> {
  std::size_t operator()(const eventcore::StreamId& id) const noexcept {
    return std::hash<std::string>{}(id.str());
  }
};
