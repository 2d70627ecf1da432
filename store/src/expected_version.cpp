#include "eventcore/store/expected_version.hpp"

namespace eventcore {

std::string to_string(const ExpectedVersion& expected) {
  switch (expected.kind()) {
    case ExpectedVersion::Kind::exact: return "version " + std::to_string(expected.version().value);
    case ExpectedVersion::Kind::no_stream: return "no stream";
    case ExpectedVersion::Kind::stream_exists: return "an existing stream";
    case ExpectedVersion::Kind::any: return "any version";
  }
  return "?";
}

}  // namespace eventcore
