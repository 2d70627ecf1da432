#pragma once

// Events of a codec's types as JSON and back, through cereal's JSON archive
// (kept out of event_codec.hpp: only tools that show or take JSON pay for
// it). A type whose serialize names its fields with CEREAL_NVP renders as
// {"account": "ada", "cents": 500}; one that does not, as {"value0": ...}.
// Names do not change the binary payload: NVPs are free in binary archives.
//
//   auto text = EventJson<bank::Event>::to_json(stored.type, stored.payload);
//   auto event = EventJson<bank::Event>::from_json("MoneyDeposited", R"({"account": "ada", ...})");

#include <sstream>
#include <string>
#include <string_view>
#include <variant>

#include <cereal/archives/json.hpp>

#include "eventcore/store/event_codec.hpp"

namespace eventcore {

template <class Variant>
class EventJson;

template <DomainEvent... Ts>
class EventJson<std::variant<Ts...>> {
 public:
  using Event = std::variant<Ts...>;
  using Codec = EventCodec<Event>;

  // The event's fields as a JSON object, on one line.
  static std::string to_json(const Event& event) {
    std::ostringstream os;
    {
      cereal::JSONOutputArchive archive(os, cereal::JSONOutputArchive::Options::NoIndent());
      std::visit([&](const auto& e) { archive(cereal::make_nvp("event", e)); }, event);
    }
    // The archive writes {"event": <object>} over several lines: unwrap the
    // object and drop the whitespace between tokens (none inside strings).
    const std::string text = os.str();
    std::string out;
    out.reserve(text.size());
    bool in_string = false, escaped = false;
    for (std::size_t i = text.find(':') + 1, end = text.rfind('}'); i < end; ++i) {
      const char c = text[i];
      if (in_string) {
        if (escaped) escaped = false;
        else if (c == '\\') escaped = true;
        else if (c == '"') in_string = false;
      } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
        continue;
      } else if (c == '"') {
        in_string = true;
      }
      out.push_back(c);
    }
    return out;
  }

  // A stored payload of `type` as JSON. Errors: unknown_event_type,
  // malformed_event (the codec's).
  static Result<std::string> to_json(std::string_view type, std::span<const std::uint8_t> payload) {
    auto event = Codec::decode(type, payload);
    if (!event) return std::move(event).error();
    return to_json(*event);
  }

  // An event of `type` from a JSON object with its fields. Errors:
  // unknown_event_type, invalid_argument (not JSON, a field missing or of
  // the wrong type: the message says which).
  static Result<Event> from_json(std::string_view type, const std::string& json) {
    Result<Event> result{Error{ErrorCode::unknown_event_type, "unknown event type '" + std::string(type) + "'"}};
    try_parse<0>(type, json, result);
    return result;
  }

 private:
  template <std::size_t I>
  static void try_parse(std::string_view type, const std::string& json, Result<Event>& result) {
    if constexpr (I < sizeof...(Ts)) {
      if (Codec::type_names[I] != type) return try_parse<I + 1>(type, json, result);
      using T = std::variant_alternative_t<I, Event>;
      try {
        std::istringstream is("{\"event\":" + json + "}");
        cereal::JSONInputArchive archive(is);
        T value{};
        archive(cereal::make_nvp("event", value));
        result = Result<Event>{Event{std::in_place_index<I>, std::move(value)}};
      } catch (const std::exception& e) {
        result = Result<Event>{
            Error{ErrorCode::invalid_argument, "not a " + std::string(type) + " event: " + std::string(e.what())}};
      }
    }
  }
};

}  // namespace eventcore
