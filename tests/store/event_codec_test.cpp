// EventCodec: a std::variant of domain events to and from (type, payload).

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "eventcore/store/event_codec.hpp"

using namespace eventcore;

namespace {

// A small test domain.
struct AccountOpened {
  static constexpr std::string_view event_type = "AccountOpened";
  std::string owner;
  std::vector<std::string> tags;
  template <class Archive> void serialize(Archive& ar) { ar(owner, tags); }
  friend bool operator==(const AccountOpened&, const AccountOpened&) = default;
};

struct MoneyDeposited {
  static constexpr std::string_view event_type = "MoneyDeposited";
  std::int64_t cents = 0;
  std::optional<std::string> note;
  template <class Archive> void serialize(Archive& ar) { ar(cents, note); }
  friend bool operator==(const MoneyDeposited&, const MoneyDeposited&) = default;
};

struct AccountClosed {
  static constexpr std::string_view event_type = "AccountClosed";
  template <class Archive> void serialize(Archive&) {}
  friend bool operator==(const AccountClosed&, const AccountClosed&) = default;
};

using AccountEvent = std::variant<AccountOpened, MoneyDeposited, AccountClosed>;
using Codec = EventCodec<AccountEvent>;

// An event whose serialize encodes and decodes another event itself, while
// the codec's own stream is in use on this thread.
struct Wrapped {
  static constexpr std::string_view event_type = "Wrapped";
  AccountEvent inner;
  template <class Archive> void save(Archive& ar) const {
    ar(std::string(Codec::type_name(inner)), Codec::encode_payload(inner));
  }
  template <class Archive> void load(Archive& ar) {
    std::string type;
    Payload payload;
    ar(type, payload);
    inner = Codec::decode(type, payload).value();
  }
};
using WrappedCodec = EventCodec<std::variant<Wrapped>>;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

AccountEvent round_trip(const AccountEvent& event) {
  auto written = Codec::encode(event);
  auto decoded = Codec::decode(written.type, written.payload);
  if (!decoded) FAIL(to_string(decoded.error()));
  return std::move(decoded).value();
}

}  // namespace

TEST_CASE("the codec names each event by its declared type", "[codec]") {
  CHECK(Codec::type_name(AccountOpened{}) == "AccountOpened");
  CHECK(Codec::type_name(MoneyDeposited{}) == "MoneyDeposited");
  CHECK(Codec::type_name(AccountClosed{}) == "AccountClosed");
  CHECK(Codec::knows("MoneyDeposited"));
  CHECK_FALSE(Codec::knows("MoneyWithdrawn"));
  CHECK_FALSE(Codec::knows(""));
}

TEST_CASE("every event of the domain round-trips through the codec", "[codec]") {
  const std::vector<AccountEvent> events{
      AccountOpened{"ada", {"vip", "ünïcödé", std::string("nul\0byte", 8)}},
      AccountOpened{"", {}},
      MoneyDeposited{-12345678901234, "refund"},
      MoneyDeposited{INT64_MAX, std::nullopt},
      AccountClosed{},
  };
  for (const auto& event : events) {
    INFO(Codec::type_name(event));
    CHECK(round_trip(event) == event);
  }
}

TEST_CASE("encode makes an event ready to append: fresh id, type name, payload, metadata",
          "[codec]") {
  Metadata metadata;
  metadata.user_id = "user-1";
  auto first = Codec::encode(MoneyDeposited{100, {}}, metadata);
  auto second = Codec::encode(MoneyDeposited{100, {}});
  CHECK_FALSE(first.id.is_nil());
  CHECK(first.id < second.id);
  CHECK(first.type == "MoneyDeposited");
  CHECK(first.payload == Codec::encode_payload(MoneyDeposited{100, {}}));
  CHECK(first.payload == second.payload);  // encoding is deterministic
  CHECK(first.metadata == metadata);
  CHECK(second.metadata == Metadata{});
}

TEST_CASE("decoding an unknown type fails with unknown_event_type, naming the type", "[codec]") {
  auto payload = Codec::encode_payload(MoneyDeposited{5, {}});
  auto decoded = Codec::decode("MoneyWithdrawn", payload);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == ErrorCode::unknown_event_type);
  CHECK(contains(decoded.error().message, "'MoneyWithdrawn'"));
}

TEST_CASE("decoding a stored event of an unknown type names the type, stream, version and position",
          "[codec]") {
  StoredEvent stored{EventId::generate(), *StreamId::try_new("account-9"), {4}, {17, 23},
                     "MoneyWithdrawn", Codec::encode_payload(MoneyDeposited{5, {}}), {}, {}};
  auto decoded = Codec::decode(stored);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == ErrorCode::unknown_event_type);
  INFO(decoded.error().message);
  CHECK(contains(decoded.error().message, "'MoneyWithdrawn'"));
  CHECK(contains(decoded.error().message, "'account-9'"));
  CHECK(contains(decoded.error().message, "version 4"));
  CHECK(contains(decoded.error().message, "17:23"));
}

TEST_CASE("a stored event of a known type decodes", "[codec]") {
  StoredEvent stored{EventId::generate(), *StreamId::try_new("account-9"), {1}, {1, 1},
                     "AccountOpened", Codec::encode_payload(AccountOpened{"bo", {"x"}}), {}, {}};
  auto decoded = Codec::decode(stored);
  REQUIRE(decoded.ok());
  CHECK(*decoded == AccountEvent{AccountOpened{"bo", {"x"}}});
}

TEST_CASE("a truncated payload fails with malformed_event, naming the type", "[codec]") {
  const auto payload = Codec::encode_payload(AccountOpened{"someone with a long name", {"a", "b"}});
  REQUIRE(payload.size() > 4);
  for (std::size_t keep : {std::size_t{0}, std::size_t{1}, payload.size() / 2, payload.size() - 1}) {
    INFO("kept " << keep << " of " << payload.size() << " bytes");
    std::span<const std::uint8_t> truncated(payload.data(), keep);
    auto decoded = Codec::decode("AccountOpened", truncated);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == ErrorCode::malformed_event);
    CHECK(contains(decoded.error().message, "'AccountOpened'"));
  }
}

TEST_CASE("a malformed stored event names its stream and position", "[codec]") {
  StoredEvent stored{EventId::generate(), *StreamId::try_new("account-3"), {2}, {5, 6},
                     "MoneyDeposited", Payload{0x01}, {}, {}};
  auto decoded = Codec::decode(stored);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == ErrorCode::malformed_event);
  CHECK(contains(decoded.error().message, "'account-3'"));
  CHECK(contains(decoded.error().message, "5:6"));
}

TEST_CASE("a decode after a malformed payload starts clean", "[codec]") {
  // The thread's stream is reused: the failure state a short read leaves
  // must not reach the next use, which reads through the stream's state
  // (decode_record peeks for an optional last field).
  {
    const Payload none;
    detail::PayloadReadBuf empty{std::span<const std::uint8_t>(none)};
    detail::StreamOver<std::istream> is(&empty);
    char c = 0;
    is.get().read(&c, 1);
    REQUIRE(is.get().fail());
  }
  {
    const Payload two{7, 8};
    detail::PayloadReadBuf buf{std::span<const std::uint8_t>(two)};
    detail::StreamOver<std::istream> is(&buf);
    CHECK(is.get().good());
    CHECK(is.get().peek() == 7);
  }
  const auto payload = Codec::encode_payload(AccountOpened{"after", {"a"}});
  for (int i = 0; i < 3; ++i) {
    std::span<const std::uint8_t> truncated(payload.data(), payload.size() - 1);
    REQUIRE_FALSE(Codec::decode("AccountOpened", truncated).ok());
    auto decoded = Codec::decode("AccountOpened", payload);
    REQUIRE(decoded.ok());
    CHECK(*decoded == AccountEvent{AccountOpened{"after", {"a"}}});
    CHECK(round_trip(MoneyDeposited{7, "x"}) == AccountEvent{MoneyDeposited{7, "x"}});
  }
}

TEST_CASE("an event whose serialize encodes another event round-trips", "[codec]") {
  const AccountEvent inner = AccountOpened{"inner", {"t"}};
  auto written = WrappedCodec::encode(Wrapped{inner});
  auto decoded = WrappedCodec::decode(written.type, written.payload);
  REQUIRE(decoded.ok());
  CHECK(std::get<Wrapped>(*decoded).inner == inner);
  // and the thread's own stream still works afterwards
  CHECK(round_trip(AccountClosed{}) == AccountEvent{AccountClosed{}});
}

TEST_CASE("threads encode and decode at once", "[codec]") {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < 2'000; ++i) {
        const AccountEvent event = MoneyDeposited{t * 100'000 + i, std::string(static_cast<std::size_t>(i % 40), 'n')};
        auto written = Codec::encode(event);
        auto decoded = Codec::decode(written.type, written.payload);
        if (!decoded.ok() || !(*decoded == event)) ++failures[static_cast<std::size_t>(t)];
      }
    });
  for (auto& thread : threads) thread.join();
  CHECK(failures == std::vector<int>(4, 0));
}
