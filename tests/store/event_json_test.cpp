// EventJson: events of a codec's types as JSON and back.

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <cereal/types/vector.hpp>

#include "eventcore/store/event_json.hpp"

using namespace eventcore;

namespace {

struct Opened {
  static constexpr std::string_view event_type = "Opened";
  std::string owner;
  std::vector<std::string> tags;
  template <class Archive> void serialize(Archive& ar) { ar(CEREAL_NVP(owner), CEREAL_NVP(tags)); }
  friend bool operator==(const Opened&, const Opened&) = default;
};
struct Deposited {
  static constexpr std::string_view event_type = "Deposited";
  std::int64_t cents = 0;
  template <class Archive> void serialize(Archive& ar) { ar(CEREAL_NVP(cents)); }
  friend bool operator==(const Deposited&, const Deposited&) = default;
};
struct Unnamed {  // fields without names
  static constexpr std::string_view event_type = "Unnamed";
  std::int64_t a = 0;
  template <class Archive> void serialize(Archive& ar) { ar(a); }
};

using Event = std::variant<Opened, Deposited, Unnamed>;
using Json = EventJson<Event>;

}  // namespace

TEST_CASE("an event renders as a one-line JSON object of its named fields", "[codec][json]") {
  CHECK(Json::to_json(Event{Opened{"Ada \"A\" L. \\ x y", {"vip", "new"}}}) ==
        R"({"owner":"Ada \"A\" L. \\ x y","tags":["vip","new"]})");
  CHECK(Json::to_json(Event{Deposited{-42}}) == R"({"cents":-42})");
  CHECK(Json::to_json(Event{Unnamed{7}}) == R"({"value0":7})");
}

TEST_CASE("a stored payload renders through the codec, and an unknown type says so", "[codec][json]") {
  const auto written = EventCodec<Event>::encode(Deposited{500});
  auto text = Json::to_json(written.type, written.payload);
  REQUIRE(text.ok());
  CHECK(*text == R"({"cents":500})");
  auto unknown = Json::to_json("Closed", written.payload);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ErrorCode::unknown_event_type);
  auto malformed = Json::to_json("Opened", Payload{1, 2});
  REQUIRE_FALSE(malformed.ok());
  CHECK(malformed.error().code == ErrorCode::malformed_event);
}

TEST_CASE("JSON parses back into the event, in any field order, and bad JSON is an invalid argument",
          "[codec][json]") {
  auto opened = Json::from_json("Opened", R"({"tags": ["x"], "owner": "Bob"})");
  REQUIRE(opened.ok());
  CHECK(std::get<Opened>(*opened) == Opened{"Bob", {"x"}});
  auto round = Json::from_json("Deposited", Json::to_json(Event{Deposited{123}}));
  REQUIRE(round.ok());
  CHECK(std::get<Deposited>(*round).cents == 123);

  CHECK(Json::from_json("Closed", "{}").error().code == ErrorCode::unknown_event_type);
  for (const char* bad : {R"({"cents": "lots"})", R"({})", R"({"cents": 1)", "not json", ""}) {
    INFO(bad);
    auto parsed = Json::from_json("Deposited", bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code == ErrorCode::invalid_argument);
    CHECK(parsed.error().message.find("Deposited") != std::string::npos);
  }
}
