#include "wire.hpp"

#include <sstream>
#include <stdexcept>

#include <cereal/archives/binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

namespace eventcore {

namespace {
StreamId stream_id(const std::string& text) {
  auto parsed = StreamId::try_new(text);
  if (!parsed) throw std::invalid_argument(parsed.error().message);
  return std::move(*parsed);
}
}  // namespace

// cereal finds these by argument-dependent lookup. StreamId has no empty
// value (no default constructor): lists of them travel as their texts.
template <class Archive>
void save_streams(Archive& ar, const std::vector<StreamId>& ids) {
  std::vector<std::string> texts;
  for (const auto& id : ids) texts.push_back(id.str());
  ar(texts);
}
template <class Archive>
void load_streams(Archive& ar, std::vector<StreamId>& ids) {
  std::vector<std::string> texts;
  ar(texts);
  ids.clear();
  for (const auto& text : texts) ids.push_back(stream_id(text));
}
template <class Archive>
void save(Archive& ar, const EventId& id) {
  ar(id.bytes());
}
template <class Archive>
void load(Archive& ar, EventId& id) {
  EventId::Bytes bytes{};
  ar(bytes);
  id = EventId(bytes);
}
template <class Archive>
void serialize(Archive& ar, Metadata& m) {
  ar(m.correlation_id, m.causation_id, m.user_id, m.extra);
}
template <class Archive>
void serialize(Archive& ar, ExecuteOptions& o) {
  ar(o.idempotency_key, o.fingerprint, o.metadata);
}
template <class Archive>
void serialize(Archive& ar, GlobalPosition& p) {
  ar(p.transaction, p.sequence);
}
template <class Archive>
void save(Archive& ar, const Error& e) {
  ar(static_cast<std::uint8_t>(e.code), e.message);
}
template <class Archive>
void load(Archive& ar, Error& e) {
  std::uint8_t code = 0;
  ar(code, e.message);
  if (code > static_cast<std::uint8_t>(ErrorCode::timeout)) throw std::invalid_argument("unknown store error code");
  e.code = static_cast<ErrorCode>(code);
}
template <class Archive>
void serialize(Archive& ar, PhaseTimings& t) {
  auto field = [&](std::chrono::nanoseconds& d) {
    std::int64_t n = d.count();
    ar(n);
    d = std::chrono::nanoseconds(n);
  };
  field(t.prepare);
  field(t.reconstruct);
  field(t.handle);
  field(t.write);
  field(t.total);
}
template <class Archive>
void save(Archive& ar, const CommandResult& r) {
  std::vector<std::string> streams;
  std::vector<std::uint64_t> versions;
  for (const auto& s : r.stream_versions) {
    streams.push_back(s.stream.str());
    versions.push_back(s.version.value);
  }
  ar(r.command, r.attempts, r.events_written, streams, versions, r.positions, r.timings, r.replayed);
}
template <class Archive>
void load(Archive& ar, CommandResult& r) {
  std::vector<std::string> streams;
  std::vector<std::uint64_t> versions;
  ar(r.command, r.attempts, r.events_written, streams, versions, r.positions, r.timings, r.replayed);
  if (streams.size() != versions.size()) throw std::invalid_argument("stream versions do not match their streams");
  r.stream_versions.clear();
  for (std::size_t i = 0; i < streams.size(); ++i)
    r.stream_versions.push_back({stream_id(streams[i]), StreamVersion{versions[i]}});
}
template <class Archive>
void save(Archive& ar, const CommandError& e) {
  ar(static_cast<std::uint8_t>(e.code), e.command);
  save_streams(ar, e.streams);
  ar(e.message, e.cause, e.attempts, e.reason);
}
template <class Archive>
void load(Archive& ar, CommandError& e) {
  std::uint8_t code = 0;
  ar(code, e.command);
  load_streams(ar, e.streams);
  ar(e.message, e.cause, e.attempts, e.reason);
  if (code > static_cast<std::uint8_t>(CommandErrorCode::invalid_command))
    throw std::invalid_argument("unknown command error code");
  e.code = static_cast<CommandErrorCode>(code);
}

namespace remote {
namespace {
template <class T>
std::string encode(const T& value) {
  std::ostringstream out;
  {
    cereal::BinaryOutputArchive archive(out);
    archive(value);
  }
  return std::move(out).str();
}

template <class... T>
void decode(std::string_view bytes, T&... values) {
  std::istringstream in{std::string(bytes)};
  {
    cereal::BinaryInputArchive archive(in);
    archive(values...);
  }
  if (in.peek() != std::char_traits<char>::eof()) throw std::invalid_argument("bytes left after the message");
}
}  // namespace

std::string encode_options(const ExecuteOptions& options) { return encode(options); }

ExecuteOptions decode_options(std::string_view bytes) {
  ExecuteOptions options;
  decode(bytes, options);
  return options;
}

std::string encode_result(const ExecuteResult& result) {
  std::ostringstream out;
  {
    cereal::BinaryOutputArchive archive(out);
    archive(result.ok());
    if (result.ok()) archive(result.value());
    else archive(result.error());
  }
  return std::move(out).str();
}

ExecuteResult decode_result(std::string_view bytes) {
  std::istringstream in{std::string(bytes)};
  std::optional<ExecuteResult> out;
  {
    cereal::BinaryInputArchive archive(in);
    bool ok = false;
    archive(ok);
    if (ok) {
      CommandResult value;
      archive(value);
      out.emplace(std::move(value));
    } else {
      CommandError error{CommandErrorCode::store_failed, {}, {}, {}, {}, 0, {}};
      archive(error);
      out.emplace(std::move(error));
    }
  }
  if (in.peek() != std::char_traits<char>::eof()) throw std::invalid_argument("bytes left after the result");
  return std::move(*out);
}

}  // namespace remote
}  // namespace eventcore
