#pragma once

#include <cstdint>
#include <string>

#include "eventcore/store/stream_version.hpp"

namespace eventcore {

// The condition a stream must meet for an append to go through. Every stream
// of an append is checked, including streams that receive no events.
class ExpectedVersion {
 public:
  enum class Kind : std::uint8_t { exact, no_stream, stream_exists, any };

  // The stream is exactly at `version` (exact(0) is the same as no_stream()).
  static constexpr ExpectedVersion exact(StreamVersion version) { return {Kind::exact, version}; }
  static constexpr ExpectedVersion exact(std::uint64_t version) { return {Kind::exact, {version}}; }
  // The stream has no events yet.
  static constexpr ExpectedVersion no_stream() { return {Kind::no_stream, {}}; }
  // The stream has at least one event.
  static constexpr ExpectedVersion stream_exists() { return {Kind::stream_exists, {}}; }
  // No condition.
  static constexpr ExpectedVersion any() { return {Kind::any, {}}; }

  constexpr Kind kind() const noexcept { return kind_; }
  constexpr StreamVersion version() const noexcept { return version_; }

  // Whether a stream currently at `actual` satisfies this expectation.
  constexpr bool accepts(StreamVersion actual) const noexcept {
    switch (kind_) {
      case Kind::exact: return actual == version_;
      case Kind::no_stream: return actual.value == 0;
      case Kind::stream_exists: return actual.value > 0;
      case Kind::any: return true;
    }
    return false;
  }

  friend constexpr bool operator==(const ExpectedVersion&, const ExpectedVersion&) = default;

 private:
  constexpr ExpectedVersion(Kind kind, StreamVersion version) : kind_(kind), version_(version) {}
  Kind kind_;
  StreamVersion version_;
};

// "version 3", "no stream", "an existing stream", "any version"
std::string to_string(const ExpectedVersion& expected);

}  // namespace eventcore
