#include "eventcore/actors/detail/idempotency_record.hpp"

#include <algorithm>
#include <unordered_map>

#include <cereal/types/array.hpp>
#include <cereal/types/utility.hpp>

#include "eventcore/store/event_codec.hpp"

namespace eventcore::detail {
namespace {
struct Wire {
  std::string command;
  std::vector<std::pair<std::string, std::uint64_t>> stream_versions;
  std::vector<std::array<std::uint8_t, 16>> event_ids;
  std::string fingerprint;  // appended last: a record without it still reads (as empty)
  template <class Archive>
  void serialize(Archive& ar) { ar(command, stream_versions, event_ids); }
};
}  // namespace

Payload encode_record(const IdempotencyRecord& record) {
  Wire wire{record.command, record.stream_versions, {}, record.fingerprint};
  for (const auto& id : record.event_ids) wire.event_ids.push_back(id.bytes());
  Payload payload;
  {
    PayloadWriteBuf buf(payload);
    StreamOver<std::ostream> os(&buf);
    cereal::PortableBinaryOutputArchive archive(os.get());
    archive(wire);
    archive(wire.fingerprint);
  }
  return payload;
}

// The encoding is the one records had as events of '$idempotency-<key>'
// streams, so that the records migrated from there still decode.
Result<IdempotencyRecord> decode_record(const CommandRecord& stored) {
  Wire wire;
  try {
    PayloadReadBuf buf(stored.data);
    StreamOver<std::istream> is(&buf);
    cereal::PortableBinaryInputArchive archive(is.get());
    archive(wire);
    if (is.get().peek() != std::char_traits<char>::eof()) archive(wire.fingerprint);
  } catch (const std::exception& e) {
    return Error{ErrorCode::malformed_event, "malformed command record under idempotency key '" + stored.key +
                                                 "': " + e.what()};
  }
  IdempotencyRecord record{std::move(wire.command), std::move(wire.stream_versions), {}, std::move(wire.fingerprint)};
  for (const auto& bytes : wire.event_ids) record.event_ids.emplace_back(bytes);
  return record;
}

std::string key_fingerprint(const std::string& command, std::vector<StreamId> streams, const std::string& extra) {
  std::sort(streams.begin(), streams.end());
  std::string out = command + "(";
  for (std::size_t i = 0; i < streams.size(); ++i) out += (i ? ", " : "") + streams[i].str();
  out += ")";
  if (!extra.empty()) out += " " + extra;
  return out;
}

Result<std::vector<GlobalPosition>> recorded_positions(EventStore& store, const IdempotencyRecord& record) {
  const std::uint64_t count = record.event_ids.size();
  std::unordered_map<EventId, GlobalPosition> positions;
  for (const auto& [name, version_after] : record.stream_versions) {
    auto stream = StreamId::try_new(name);
    if (!stream) return std::move(stream).error();
    const std::uint64_t from = version_after > count ? version_after - count + 1 : 1;
    auto events = store.read_stream(*stream, StreamVersion{from}, count);
    if (!events) return std::move(events).error();
    for (const auto& e : *events) positions.emplace(e.id, e.position);
  }
  std::vector<GlobalPosition> out;
  out.reserve(count);
  for (const auto& id : record.event_ids)
    if (auto it = positions.find(id); it != positions.end()) out.push_back(it->second);
  return out;
}

}  // namespace eventcore::detail
