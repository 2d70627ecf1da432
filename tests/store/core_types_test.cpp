// The store's value types: what a valid value is, and what each rejects.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "eventcore/store/error.hpp"
#include "eventcore/store/event_id.hpp"
#include "eventcore/store/event_store.hpp"
#include "eventcore/store/expected_version.hpp"
#include "eventcore/store/global_position.hpp"
#include "eventcore/store/stream_id.hpp"

using namespace eventcore;

namespace {
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

// ===========================================================================
// StreamId

TEST_CASE("a stream id is any non-empty UTF-8 text of at most 255 bytes", "[stream_id]") {
  for (std::string_view text : {"a", "account-1", "orders/2024/42", "with space", "ünïcödé-流-🙂",
                                "%_*?'\";--"}) {
    auto id = StreamId::try_new(text);
    INFO(text);
    REQUIRE(id.ok());
    CHECK(id->str() == text);
  }
  auto longest = StreamId::try_new(std::string(255, 'x'));
  REQUIRE(longest.ok());
  CHECK(longest->str().size() == 255);
  // 255 bytes of multi-byte characters: the limit counts bytes.
  std::string euros;
  for (int i = 0; i < 85; ++i) euros += "€";  // 3 bytes each
  CHECK(StreamId::try_new(euros).ok());
}

TEST_CASE("an empty stream id is rejected, saying it is empty", "[stream_id]") {
  auto id = StreamId::try_new("");
  REQUIRE_FALSE(id.ok());
  CHECK(id.error().code == ErrorCode::invalid_argument);
  CHECK(contains(id.error().message, "empty"));
}

TEST_CASE("a stream id of 256 bytes is rejected, giving its length and the limit", "[stream_id]") {
  auto id = StreamId::try_new(std::string(256, 'x'));
  REQUIRE_FALSE(id.ok());
  CHECK(id.error().code == ErrorCode::invalid_argument);
  INFO(id.error().message);
  CHECK(contains(id.error().message, "256"));
  CHECK(contains(id.error().message, "255"));

  std::string euros;
  for (int i = 0; i < 86; ++i) euros += "€";  // 258 bytes, 86 characters
  CHECK_FALSE(StreamId::try_new(euros).ok());
}

TEST_CASE("a stream id with a control character is rejected, naming the character and where",
          "[stream_id]") {
  struct Case { std::string text; std::string code; std::string at; };
  for (const auto& c : {Case{"line\nbreak", "0x0a", "4"}, Case{"tab\there", "0x09", "3"},
                        Case{std::string("nul\0x", 5), "0x00", "3"}, Case{"\rstart", "0x0d", "0"},
                        Case{"del\x7f", "0x7f", "3"}, Case{"esc\x1b[0m", "0x1b", "3"}}) {
    auto id = StreamId::try_new(c.text);
    INFO("code " << c.code);
    REQUIRE_FALSE(id.ok());
    CHECK(id.error().code == ErrorCode::invalid_argument);
    INFO(id.error().message);
    CHECK(contains(id.error().message, "control character"));
    CHECK(contains(id.error().message, c.code));
    CHECK(contains(id.error().message, "byte " + c.at));
  }
}

TEST_CASE("a stream id that is not valid UTF-8 is rejected", "[stream_id]") {
  for (std::string_view bad : {"\xff", "abc\xc3", "\xc3(", "\x80", "\xe2\x82", "\xc0\xaf",
                               "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80"}) {
    auto id = StreamId::try_new(bad);
    INFO("bytes of length " << bad.size());
    REQUIRE_FALSE(id.ok());
    CHECK(id.error().code == ErrorCode::invalid_argument);
    CHECK(contains(id.error().message, "UTF-8"));
  }
  // C1 controls (U+0080..U+009F) are control characters too.
  auto c1 = StreamId::try_new("a\xc2\x85" "b");
  REQUIRE_FALSE(c1.ok());
  CHECK(contains(c1.error().message, "control character"));
}

TEST_CASE("stream ids compare and hash by their text", "[stream_id]") {
  auto a = *StreamId::try_new("a"), b = *StreamId::try_new("b"), a2 = *StreamId::try_new("a");
  CHECK(a == a2);
  CHECK(a < b);
  CHECK(std::hash<StreamId>{}(a) == std::hash<StreamId>{}(a2));
  CHECK(a.starts_with(""));
  CHECK(a.starts_with("a"));
  CHECK_FALSE(a.starts_with("ab"));
}

// ===========================================================================
// EventId

TEST_CASE("generated event ids strictly increase, 100k in a row", "[event_id]") {
  EventId previous = EventId::generate();
  bool increasing = true;
  for (int i = 0; i < 100'000; ++i) {
    EventId next = EventId::generate();
    if (!(previous < next)) {
      increasing = false;
      FAIL_CHECK("id " << i << " " << next.str() << " is not after " << previous.str());
      break;
    }
    previous = next;
  }
  CHECK(increasing);
}

TEST_CASE("generated event ids are unique and increasing per thread across threads",
          "[event_id]") {
  constexpr int threads = 4, per_thread = 20'000;
  std::vector<std::vector<EventId>> made(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&made, t] {
      made[t].reserve(per_thread);
      for (int i = 0; i < per_thread; ++i) made[t].push_back(EventId::generate());
    });
  for (auto& w : workers) w.join();

  std::set<EventId> all;
  for (const auto& ids : made) {
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
    all.insert(ids.begin(), ids.end());
  }
  CHECK(all.size() == static_cast<std::size_t>(threads * per_thread));
  // An id made after all of them sorts after all of them.
  CHECK(*all.rbegin() < EventId::generate());
}

TEST_CASE("a generated event id is a UUIDv7 holding the current millisecond", "[event_id]") {
  const auto before_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch()).count());
  for (int i = 0; i < 100; ++i) {
    EventId id = EventId::generate();
    CHECK_FALSE(id.is_nil());
    CHECK((id.bytes()[6] >> 4) == 0x7);     // version 7
    CHECK((id.bytes()[8] >> 6) == 0b10);    // RFC 4122 variant
    CHECK(id.str()[14] == '7');
    std::uint64_t ms = 0;
    for (int b = 0; b < 6; ++b) ms = (ms << 8) | id.bytes()[b];
    CHECK(ms >= before_ms);
    CHECK(ms < before_ms + 60'000);
  }
}

TEST_CASE("from_parts lays out time, counter and random bits as UUIDv7", "[event_id]") {
  EventId id = EventId::from_parts(0x0123456789ab, 0xcde, 0xffffffffffffffffULL);
  CHECK(id.str() == "01234567-89ab-7cde-bfff-ffffffffffff");
  CHECK(EventId::from_parts(1, 0, 0) < EventId::from_parts(1, 1, 0));
  CHECK(EventId::from_parts(1, 0xfff, 0) < EventId::from_parts(2, 0, 0));
}

TEST_CASE("an event id's text parses back to the same id", "[event_id]") {
  for (int i = 0; i < 100; ++i) {
    EventId id = EventId::generate();
    std::string text = id.str();
    CHECK(text.size() == 36);
    auto parsed = EventId::parse(text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == id);
  }
  CHECK(EventId{}.str() == "00000000-0000-0000-0000-000000000000");
  auto nil = EventId::parse("00000000-0000-0000-0000-000000000000");
  REQUIRE(nil.ok());
  CHECK(nil->is_nil());
  auto upper = EventId::parse("01234567-89AB-7CDE-BFFF-FFFFFFFFFFFF");
  REQUIRE(upper.ok());
  CHECK(upper->str() == "01234567-89ab-7cde-bfff-ffffffffffff");
}

TEST_CASE("parsing text that is not a UUID fails, quoting the text", "[event_id]") {
  for (std::string_view bad :
       {"", "not-a-uuid", "01234567-89ab-7cde-bfff-ffffffffffff0", "01234567-89ab-7cde-bfff-fffffffffff",
        "0123456789ab-7cde-bfff-ffffffffffff-", "01234567_89ab_7cde_bfff_ffffffffffff",
        "0123456g-89ab-7cde-bfff-ffffffffffff", "{1234567-89ab-7cde-bfff-ffffffffffff}",
        "01234567-89ab-7cde-bfff-fffffffffff ", " 1234567-89ab-7cde-bfff-ffffffffffff"}) {
    auto parsed = EventId::parse(bad);
    INFO("'" << bad << "'");
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code == ErrorCode::invalid_argument);
    CHECK(contains(parsed.error().message, "'" + std::string(bad) + "'"));
  }
}

// ===========================================================================
// ExpectedVersion and GlobalPosition

TEST_CASE("each expected version accepts exactly the versions it names", "[expected_version]") {
  const StreamVersion none{0}, one{1}, three{3};
  CHECK(ExpectedVersion::exact(3).accepts(three));
  CHECK_FALSE(ExpectedVersion::exact(3).accepts(one));
  CHECK_FALSE(ExpectedVersion::exact(3).accepts(StreamVersion{4}));
  CHECK_FALSE(ExpectedVersion::exact(3).accepts(none));
  CHECK(ExpectedVersion::exact(0).accepts(none));
  CHECK_FALSE(ExpectedVersion::exact(0).accepts(one));

  CHECK(ExpectedVersion::no_stream().accepts(none));
  CHECK_FALSE(ExpectedVersion::no_stream().accepts(one));

  CHECK_FALSE(ExpectedVersion::stream_exists().accepts(none));
  CHECK(ExpectedVersion::stream_exists().accepts(one));
  CHECK(ExpectedVersion::stream_exists().accepts(three));

  CHECK(ExpectedVersion::any().accepts(none));
  CHECK(ExpectedVersion::any().accepts(three));

  static_assert(ExpectedVersion::exact(StreamVersion{2}) == ExpectedVersion::exact(2));
  static_assert(ExpectedVersion::exact(2).kind() == ExpectedVersion::Kind::exact);
  static_assert(ExpectedVersion::exact(2).version() == StreamVersion{2});
  static_assert(ExpectedVersion::any().accepts(StreamVersion{7}));
}

TEST_CASE("expected versions read as plain words", "[expected_version]") {
  CHECK(to_string(ExpectedVersion::exact(3)) == "version 3");
  CHECK(to_string(ExpectedVersion::no_stream()) == "no stream");
  CHECK(to_string(ExpectedVersion::stream_exists()) == "an existing stream");
  CHECK(to_string(ExpectedVersion::any()) == "any version");
}

TEST_CASE("global positions order by transaction, then sequence", "[global_position]") {
  const GlobalPosition start{};
  CHECK(start == GlobalPosition{0, 0});
  CHECK(start < GlobalPosition{0, 1});
  CHECK(GlobalPosition{1, 9} < GlobalPosition{2, 1});
  CHECK(GlobalPosition{2, 1} < GlobalPosition{2, 2});
  CHECK(GlobalPosition{2, 2} == GlobalPosition{2, 2});
  CHECK(GlobalPosition{3, 0} > GlobalPosition{2, 100});
  CHECK(to_string(GlobalPosition{1234, 56}) == "1234:56");
  CHECK(to_string(GlobalPosition{}) == "0:0");
}

// ===========================================================================
// Errors

TEST_CASE("an error reads as its category, then its message", "[error]") {
  CHECK(to_string(Error{ErrorCode::conflict, "stream 'account-1' is at version 3, expected 2"}) ==
        "conflict: stream 'account-1' is at version 3, expected 2");
  CHECK(to_string(Error{ErrorCode::timeout, ""}) == "timeout");
  CHECK(to_string(ErrorCode::invalid_argument) == "invalid argument");
  CHECK(to_string(ErrorCode::duplicate_event) == "duplicate event");
  CHECK(to_string(ErrorCode::payload_too_large) == "payload too large");
  CHECK(to_string(ErrorCode::unknown_event_type) == "unknown event type");
  CHECK(to_string(ErrorCode::malformed_event) == "malformed event");
  CHECK(to_string(ErrorCode::unavailable) == "store unavailable");
  CHECK(to_string(ErrorCode::failed) == "store failed");
}

TEST_CASE("only unavailable and timeout errors are transient", "[error]") {
  CHECK(Error{ErrorCode::unavailable, ""}.transient());
  CHECK(Error{ErrorCode::timeout, ""}.transient());
  for (auto code : {ErrorCode::invalid_argument, ErrorCode::conflict, ErrorCode::duplicate_event,
                    ErrorCode::payload_too_large, ErrorCode::unknown_event_type,
                    ErrorCode::malformed_event, ErrorCode::failed})
    CHECK_FALSE(Error{code, ""}.transient());
}

// ===========================================================================
// validate_append: the checks every store makes before writing

namespace {
StreamWrite write_to(std::string_view stream, std::vector<EventToWrite> events = {}) {
  return StreamWrite{*StreamId::try_new(stream), ExpectedVersion::any(), std::move(events)};
}
EventToWrite event_of(std::string type = "Tested", std::size_t payload_bytes = 1) {
  return EventToWrite{EventId::generate(), std::move(type), Payload(payload_bytes, 0x2a), {}};
}
Error rejected(const AppendRequest& request, StoreLimits limits = {}) {
  auto status = validate_append(request, limits);
  REQUIRE_FALSE(status.ok());
  return status.error();
}
}  // namespace

TEST_CASE("validate_append accepts a well-formed append, read-only participants included",
          "[validate_append]") {
  CHECK(validate_append(AppendRequest{{write_to("a", {event_of(), event_of()}), write_to("b")}}, {})
            .ok());
  CHECK(validate_append(AppendRequest{{write_to("only-read")}}, {}).ok());
  StoreLimits limits;
  limits.max_payload_bytes = 10;
  CHECK(validate_append(AppendRequest{{write_to("a", {event_of("T", 10)})}}, limits).ok());
}

TEST_CASE("validate_append rejects an append naming no stream", "[validate_append]") {
  auto error = rejected(AppendRequest{});
  CHECK(error.code == ErrorCode::invalid_argument);
  CHECK(error.message == "append names no stream");
}

TEST_CASE("validate_append rejects a stream listed twice, naming it", "[validate_append]") {
  auto error = rejected(AppendRequest{{write_to("x"), write_to("y"), write_to("x")}});
  CHECK(error.code == ErrorCode::invalid_argument);
  CHECK(error.message == "stream 'x' appears twice in one append");
}

TEST_CASE("validate_append rejects an event with an empty type, naming event and stream",
          "[validate_append]") {
  auto e = event_of("");
  auto error = rejected(AppendRequest{{write_to("s", {e})}});
  CHECK(error.code == ErrorCode::invalid_argument);
  CHECK(error.message == "event " + e.id.str() + " for stream 's' has an empty type");
}

TEST_CASE("validate_append rejects the nil event id", "[validate_append]") {
  EventToWrite nil{EventId{}, "Opened", {}, {}};
  auto error = rejected(AppendRequest{{write_to("s", {nil})}});
  CHECK(error.code == ErrorCode::invalid_argument);
  CHECK(error.message == "event of type 'Opened' for stream 's' has the nil id");
}

TEST_CASE("validate_append rejects an oversized payload, naming event, type, stream and sizes",
          "[validate_append]") {
  StoreLimits limits;
  limits.max_payload_bytes = 1024;
  auto big = event_of("Blob", 1025);
  auto error = rejected(AppendRequest{{write_to("a", {event_of()}), write_to("b", {big})}}, limits);
  CHECK(error.code == ErrorCode::payload_too_large);
  CHECK(error.message == "event " + big.id.str() +
                             " of type 'Blob' for stream 'b' has a payload of 1025 bytes, the "
                             "limit is 1024");
}

TEST_CASE("validate_append rejects an event id repeated in one append, naming it",
          "[validate_append]") {
  auto e = event_of();
  auto error = rejected(AppendRequest{{write_to("a", {e}), write_to("b", {event_of(), e})}});
  CHECK(error.code == ErrorCode::invalid_argument);
  CHECK(error.message == "event id " + e.id.str() + " appears twice in one append");
}

TEST_CASE("an empty event filter matches everything, and a filter narrows by type and prefix",
          "[event_filter]") {
  StoredEvent e{EventId::generate(), *StreamId::try_new("account-1"), {1}, {1, 1}, "Opened", {}, {}, {}};
  CHECK(EventFilter{}.matches(e));
  CHECK(EventFilter{{"Opened"}, ""}.matches(e));
  CHECK(EventFilter{{"Closed", "Opened"}, ""}.matches(e));
  CHECK_FALSE(EventFilter{{"Closed"}, ""}.matches(e));
  CHECK(EventFilter{{}, "account-"}.matches(e));
  CHECK(EventFilter{{}, "account-1"}.matches(e));
  CHECK_FALSE(EventFilter{{}, "account-10"}.matches(e));
  CHECK_FALSE(EventFilter{{}, "order-"}.matches(e));
  CHECK(EventFilter{{"Opened"}, "account"}.matches(e));
  CHECK_FALSE(EventFilter{{"Opened"}, "order"}.matches(e));
}

TEST_CASE("a global position parses back from its text, and nothing else does", "[position]") {
  const GlobalPosition p{12345678901234ULL, 42};
  CHECK(parse_global_position(to_string(p)) == p);
  CHECK(parse_global_position("0:0") == GlobalPosition{});
  CHECK(parse_global_position("18446744073709551615:1") == GlobalPosition{~std::uint64_t{0}, 1});
  for (const char* bad : {"", ":", "1:", ":1", "1", "-1:2", "1:-2", "+1:2", " 1:2", "1:2 ", "1:2:3", "a:b",
                          "18446744073709551616:1"}) {
    INFO(bad);
    CHECK_FALSE(parse_global_position(bad).has_value());
  }
}
