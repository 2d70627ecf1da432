// Events as JSON lines (see event_lines.hpp).

#include "event_lines.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>

#include <cereal/external/base64.hpp>

#include "eventcore/bank/events.hpp"
#include "eventcore/orders/orders.hpp"
#include "eventcore/store/event_json.hpp"

namespace eventcore::cli {

namespace {

using nlohmann::json;
using ordered = nlohmann::ordered_json;

// The event types this binary can show as fields, and take as fields.
struct KnownTypes {
  static Result<std::string> to_json(const StoredEvent& e) {
    if (EventCodec<bank::Event>::knows(e.type)) return EventJson<bank::Event>::to_json(e.type, e.payload);
    return EventJson<orders::Event>::to_json(e.type, e.payload);
  }
  static Result<EventToWrite> from_json(const std::string& type, const std::string& data) {
    if (EventCodec<bank::Event>::knows(type)) return encode<bank::Event>(type, data);
    return encode<orders::Event>(type, data);
  }
  template <class Variant>
  static Result<EventToWrite> encode(const std::string& type, const std::string& data) {
    auto event = EventJson<Variant>::from_json(type, data);
    if (!event) return std::move(event).error();
    return EventCodec<Variant>::encode(*event);
  }
};

std::string iso_time(Timestamp t) {
  const auto micros = t.time_since_epoch().count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros % 1'000'000));
  return buf;
}

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

Result<std::optional<EventId>> optional_id(const json& j, const char* field) {
  if (!j.contains(field) || j[field].is_null()) return std::optional<EventId>{};
  if (!j[field].is_string()) return Error{ErrorCode::invalid_argument, std::string("'") + field + "' must be a UUID string"};
  auto id = EventId::parse(j[field].get<std::string>());
  if (!id) return Error{ErrorCode::invalid_argument, std::string("'") + field + "': " + id.error().message};
  return std::optional<EventId>{*id};
}

}  // namespace

std::string base64(const Payload& bytes) { return cereal::base64::encode(bytes.data(), bytes.size()); }

Result<Payload> from_base64(std::string_view text) {
  // cereal's decoder stops at the first character outside the alphabet: check them all first.
  const auto body = text.substr(0, text.find_last_not_of('=') + 1);
  if (text.size() % 4 != 0 || text.size() - body.size() > 2)
    return Error{ErrorCode::invalid_argument, "not base64: the length (with '=' padding) must be a multiple of 4"};
  if (const auto bad = body.find_first_not_of(alphabet); bad != std::string_view::npos)
    return Error{ErrorCode::invalid_argument, "not base64 at character " + std::to_string(bad + 1)};
  const std::string decoded = cereal::base64::decode(std::string(text));
  return Payload(decoded.begin(), decoded.end());
}

ordered event_json(const StoredEvent& e) {
  ordered out{{"stream", e.stream.str()},   {"version", e.version.value},    {"position", to_string(e.position)},
           {"type", e.type},             {"id", e.id.str()},              {"recorded_at", iso_time(e.recorded_at)}};
  if (auto data = KnownTypes::to_json(e)) {
    out["data"] = ordered::parse(*data);
  } else {
    out["payload_base64"] = base64(e.payload);
    if (data.error().code != ErrorCode::unknown_event_type) out["error"] = data.error().message;
  }
  const auto& m = e.metadata;
  if (m.correlation_id) out["correlation_id"] = m.correlation_id->str();
  if (m.causation_id) out["causation_id"] = m.causation_id->str();
  if (m.user_id) out["user_id"] = *m.user_id;
  if (!m.extra.empty()) out["metadata"] = m.extra;
  return out;
}

Result<EventToWrite> event_from_json(const std::string& line) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::parse_error& e) {
    return Error{ErrorCode::invalid_argument, std::string("not JSON: ") + e.what()};
  }
  if (!j.is_object()) return Error{ErrorCode::invalid_argument, "an event must be a JSON object"};
  if (!j.contains("type") || !j["type"].is_string() || j["type"].get<std::string>().empty())
    return Error{ErrorCode::invalid_argument, "'type' must be a non-empty string"};
  const std::string type = j["type"];
  const bool has_data = j.contains("data"), has_payload = j.contains("payload_base64");
  if (has_data == has_payload)
    return Error{ErrorCode::invalid_argument, "give exactly one of 'data' (an object) and 'payload_base64'"};
  EventToWrite event;
  if (has_data) {
    if (!j["data"].is_object()) return Error{ErrorCode::invalid_argument, "'data' must be an object"};
    auto encoded = KnownTypes::from_json(type, j["data"].dump());
    if (!encoded) {
      Error error = std::move(encoded).error();
      if (error.code == ErrorCode::unknown_event_type)
        error.message += ": this binary knows the bank's and the orders example's types; give 'payload_base64'";
      return error;
    }
    event = std::move(encoded).value();
  } else {
    if (!j["payload_base64"].is_string()) return Error{ErrorCode::invalid_argument, "'payload_base64' must be a string"};
    auto payload = from_base64(j["payload_base64"].get<std::string>());
    if (!payload) return Error{ErrorCode::invalid_argument, "'payload_base64': " + payload.error().message};
    event = EventToWrite{EventId::generate(), type, std::move(payload).value(), {}};
  }
  auto id = optional_id(j, "id");
  if (!id) return std::move(id).error();
  if (*id) event.id = **id;
  auto correlation = optional_id(j, "correlation_id");
  if (!correlation) return std::move(correlation).error();
  event.metadata.correlation_id = *correlation;
  auto causation = optional_id(j, "causation_id");
  if (!causation) return std::move(causation).error();
  event.metadata.causation_id = *causation;
  if (j.contains("user_id")) {
    if (!j["user_id"].is_string()) return Error{ErrorCode::invalid_argument, "'user_id' must be a string"};
    event.metadata.user_id = j["user_id"].get<std::string>();
  }
  if (j.contains("metadata")) {
    if (!j["metadata"].is_object()) return Error{ErrorCode::invalid_argument, "'metadata' must be an object of strings"};
    for (const auto& [key, value] : j["metadata"].items()) {
      if (!value.is_string())
        return Error{ErrorCode::invalid_argument, "'metadata." + key + "' must be a string"};
      event.metadata.extra[key] = value.get<std::string>();
    }
  }
  return event;
}

}  // namespace eventcore::cli
