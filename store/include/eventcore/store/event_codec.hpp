#pragma once

#include <array>
#include <cstdint>
#include <exception>
#include <istream>
#include <optional>
#include <ostream>
#include <span>
#include <streambuf>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "eventcore/store/event.hpp"
#include "eventcore/store/result.hpp"

namespace eventcore {

// A domain event type: a struct with a unique, stable type name and a cereal
// serialize member, e.g.
//
//   struct MoneyDeposited {
//     static constexpr std::string_view event_type = "MoneyDeposited";
//     std::string account; std::int64_t cents;
//     template <class Archive> void serialize(Archive& ar) { ar(account, cents); }
//   };
template <class T>
concept DomainEvent = requires {
  { T::event_type } -> std::convertible_to<std::string_view>;
};

namespace detail {
// Reads from and writes to a byte vector without the copies of a stringstream.
class PayloadWriteBuf : public std::streambuf {
 public:
  explicit PayloadWriteBuf(Payload& out) : out_(out) {}
 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.insert(out_.end(), reinterpret_cast<const std::uint8_t*>(s),
                reinterpret_cast<const std::uint8_t*>(s) + n);
    return n;
  }
  int_type overflow(int_type ch) override {
    if (ch != traits_type::eof()) out_.push_back(static_cast<std::uint8_t>(ch));
    return ch;
  }
 private:
  Payload& out_;
};

class PayloadReadBuf : public std::streambuf {
 public:
  explicit PayloadReadBuf(std::span<const std::uint8_t> in) {
    char* begin = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
    setg(begin, begin, begin + in.size());
  }
};

// A std::ostream or std::istream over `buf` for one archive. Constructing a
// stream sets up its locale, which costs more than encoding a small event,
// so each thread keeps one of each and points it at the buffer; a nested
// use (a serialize that encodes something itself) gets a stream of its own.
template <class Stream>
class StreamOver {
 public:
  explicit StreamOver(std::streambuf* buf) {
    Slot& slot = cached();
    if (slot.busy) {
      own_.emplace(buf);
      stream_ = &*own_;
      return;
    }
    slot.busy = true;
    stream_ = &slot.stream;
    stream_->rdbuf(buf);  // also clears the state the last use left
  }
  ~StreamOver() {
    if (own_) return;
    stream_->rdbuf(nullptr);
    cached().busy = false;
  }
  StreamOver(const StreamOver&) = delete;
  StreamOver& operator=(const StreamOver&) = delete;
  Stream& get() { return *stream_; }

 private:
  struct Slot {
    Stream stream{nullptr};
    bool busy = false;
  };
  static Slot& cached() {
    thread_local Slot slot;
    return slot;
  }
  Stream* stream_ = nullptr;
  std::optional<Stream> own_;
};
}  // namespace detail

// Maps the alternatives of a std::variant of domain events to and from
// (type name, payload) pairs, the form the store holds. The registry is the
// variant itself: a type name the variant does not list is unknown.
template <class Variant>
class EventCodec;

template <DomainEvent... Ts>
class EventCodec<std::variant<Ts...>> {
 public:
  using Event = std::variant<Ts...>;

  static constexpr std::array<std::string_view, sizeof...(Ts)> type_names{Ts::event_type...};

  static std::string_view type_name(const Event& event) { return type_names[event.index()]; }

  static bool knows(std::string_view type) {
    for (auto name : type_names)
      if (name == type) return true;
    return false;
  }

  static Payload encode_payload(const Event& event) {
    Payload payload;
    detail::PayloadWriteBuf buf(payload);
    detail::StreamOver<std::ostream> os(&buf);
    {
      cereal::PortableBinaryOutputArchive archive(os.get());
      std::visit([&](const auto& e) { archive(e); }, event);
    }
    return payload;
  }

  // The event ready to append, with a fresh id.
  static EventToWrite encode(const Event& event, Metadata metadata = {}) {
    return EventToWrite{EventId::generate(), std::string(type_name(event)), encode_payload(event),
                        std::move(metadata)};
  }

  // Decodes a payload of the named type. Errors: unknown_event_type when the
  // variant has no alternative of that name, malformed_event when the bytes
  // do not decode.
  static Result<Event> decode(std::string_view type, std::span<const std::uint8_t> payload) {
    Result<Event> result{Error{ErrorCode::unknown_event_type,
                               "unknown event type '" + std::string(type) + "'"}};
    try_decode<0>(type, payload, result);
    return result;
  }

  // As above; errors name the event's stream, version and position.
  static Result<Event> decode(const StoredEvent& event) {
    auto result = decode(event.type, event.payload);
    if (!result.ok()) {
      Error error = std::move(result).error();
      error.message += " in stream '" + event.stream.str() + "' at version " +
                       std::to_string(event.version.value) + ", position " +
                       to_string(event.position);
      return error;
    }
    return result;
  }

 private:
  template <std::size_t I>
  static void try_decode(std::string_view type, std::span<const std::uint8_t> payload,
                         Result<Event>& result) {
    if constexpr (I < sizeof...(Ts)) {
      if (type_names[I] != type) return try_decode<I + 1>(type, payload, result);
      using T = std::variant_alternative_t<I, Event>;
      try {
        detail::PayloadReadBuf buf(payload);
        detail::StreamOver<std::istream> is(&buf);
        cereal::PortableBinaryInputArchive archive(is.get());
        T value{};
        archive(value);
        result = Result<Event>{Event{std::in_place_index<I>, std::move(value)}};
      } catch (const std::exception& e) {
        result = Result<Event>{Error{ErrorCode::malformed_event, "malformed payload for event type '" +
                                                                     std::string(type) + "': " + e.what()}};
      }
    }
  }
};

}  // namespace eventcore
