#pragma once

// The command concept: what a user writes.
//
//   struct Account {                                   // the state of one account stream
//     bool open = false; std::int64_t balance = 0;
//     void apply(const bank::Event& event);            // folds one event of its stream
//   };
//   struct TransferMoney {
//     using Event = bank::Event;                       // a std::variant of domain events
//     using State = PerStream<Account>;                // one Account per declared stream
//     AccountId from, to; Money amount;
//
//     std::vector<StreamId> streams() const { return {from.stream(), to.stream()}; }
//     Decision<Event> handle(const State& s) const {
//       if (s[from.stream()].balance < amount.cents()) return reject("insufficient funds");
//       return {{from.stream(), MoneyWithdrawn{...}}, {to.stream(), MoneyDeposited{...}}};
//     }
//   };
//
// - streams() declares every stream the command reads or writes: at least
//   one, each once (else the command fails with invalid_command before
//   anything is read). All of them are version-checked at commit, read-only
//   ones too.
// - State is one of:
//   * PerStream<S> (preferred): S is default-constructible and copyable, with
//       void apply(const Event& event)     or
//       void apply(const StoredEvent& stored, const Event& event)
//     Each stream actor keeps S folded from its own stream and advances it as
//     events are committed, so a command costs the same on a stream of ten
//     events as on one of a million: handle receives the cached S of every
//     declared stream (state[stream]) with no refold. With apply(const
//     Event&), a commit applies the events as handle emitted them (not
//     decoded back from the store; a reload applies the stored ones): an
//     event's serialize must keep every field apply reads.
//     S may opt in to snapshots, so that loading a long stream reads its
//     newest snapshot and the events after it, not the whole stream:
//       static constexpr std::string_view snapshot_type = "bank.Account";
//       static constexpr std::uint32_t snapshot_schema = 1;  // bump when S changes
//       template <class Archive> void serialize(Archive& ar) { ar(open, balance); }
//     (RuntimeConfig::snapshot_every says how often they are saved.)
//   * A plain State, folded across all declared streams in global order, for
//     the rare decision that needs the interleaving of several streams:
//       void apply(const StreamId& stream, const Event& event)   or
//       void apply(const StoredEvent& stored, const Event& event)
//     Optionally `void stream_read(const StreamId&)`, called once for every
//     stream read (empty ones included) before any event is applied: how a
//     State tells "read, and empty" from "not read" for dynamic discovery.
//     Over one stream it is cached like PerStream; over several it is folded
//     from the streams' events on every execution, and their stream actors
//     keep those events in memory: its cost grows with history.
// - Event is a std::variant of DomainEvent types (event_codec.hpp).
// - handle is pure. It returns events, each naming its target stream (an event
//   for an undeclared stream fails the command with
//   CommandErrorCode::undeclared_stream before anything is written);
//   reject(message) (never retried); or read_more({streams}) to add streams
//   found in the state (dynamic discovery): the runtime reads them and calls
//   handle again, up to a configured number of rounds.
// - Optional: `static constexpr std::string_view command_type = "Deposit";`
//   (else the C++ type name is used in errors), and
//   `std::optional<std::string> idempotency_key() const`.

#include <algorithm>
#include <chrono>
#include <concepts>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include "eventcore/actors/command_job.hpp"
#include "eventcore/store/event_codec.hpp"

namespace eventcore {

// One event to emit and the stream it goes to.
template <class Event>
struct Emit {
  StreamId stream;
  Event event;
};

// A rejection: what the caller did wrong, in plain words, and optionally a
// short code a service maps to its answer (e.g. "not_found",
// "insufficient_funds"); it reaches the caller as CommandError::reason.
struct Rejected {
  std::string message;
  std::string reason;
};
inline Rejected reject(std::string message, std::string reason = {}) {
  return Rejected{std::move(message), std::move(reason)};
}

struct ReadMore {
  std::vector<StreamId> streams;
};
inline ReadMore read_more(std::vector<StreamId> streams) { return ReadMore{std::move(streams)}; }

// What handle returns: events to write, a rejection, or more streams to read.
template <class Event>
class Decision {
 public:
  Decision(std::initializer_list<Emit<Event>> events) : data_(std::vector<Emit<Event>>(events)) {}
  Decision(std::vector<Emit<Event>> events) : data_(std::move(events)) {}
  Decision(Rejected rejected) : data_(std::move(rejected)) {}
  Decision(ReadMore more) : data_(std::move(more)) {}

  const std::vector<Emit<Event>>* events() const { return std::get_if<0>(&data_); }
  std::vector<Emit<Event>>* events() { return std::get_if<0>(&data_); }
  const Rejected* rejected() const { return std::get_if<1>(&data_); }
  const ReadMore* read_more() const { return std::get_if<2>(&data_); }

 private:
  std::variant<std::vector<Emit<Event>>, Rejected, ReadMore> data_;
};

template <class C>
concept Command = requires(const C& command, const typename C::State& state) {
  typename C::Event;
  { command.streams() } -> std::convertible_to<std::vector<StreamId>>;
  { command.handle(state) } -> std::same_as<Decision<typename C::Event>>;
};

// A command's State when each stream has a state of its own: S folded from
// that stream's events alone, cached by the stream's actor. handle reads
// state[stream] for every declared (and discovered) stream.
template <class S>
class PerStream {
 public:
  using value_type = S;
  struct Entry {
    StreamId stream;
    StreamVersion version;
    const S* state;
  };
  explicit PerStream(std::vector<Entry> entries) : entries_(std::move(entries)) {}

  // The state of a stream the command read. Throws std::out_of_range for any
  // other stream (the command then fails with invalid_command).
  const S& operator[](const StreamId& stream) const { return *entry(stream).state; }
  // The stream's version as read (0: the stream has no events).
  StreamVersion version(const StreamId& stream) const { return entry(stream).version; }
  // Whether the command read this stream (declared, or discovered so far).
  bool contains(const StreamId& stream) const {
    return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.stream == stream; });
  }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  const Entry& entry(const StreamId& stream) const {
    for (const auto& e : entries_)
      if (e.stream == stream) return e;
    throw std::out_of_range("stream '" + stream.str() + "' was not read by this command: declare it in streams()");
  }
  std::vector<Entry> entries_;
};

// Per-execution options that are not part of the command's meaning.
struct ExecuteOptions {
  // Executing twice with the same key returns the first result and writes
  // nothing the second time, also after an ambiguous outcome. Overrides the
  // command's own idempotency_key(). The key is bound to the command it was
  // first used with: its type, its declared streams and `fingerprint`; the
  // same key with another command fails with invalid_command and writes
  // nothing (never the first command's result). The promise lasts
  // RuntimeConfig::idempotency_retention (a day by default). Keys are 1 to
  // 200 bytes; their records live beside the log, never in it.
  std::optional<std::string> idempotency_key;
  // What else the key promises, e.g. a hash of the request body a service
  // received with it (empty: only the command's type and streams).
  std::string fingerprint;
  Metadata metadata;  // copied onto every event written (correlation, user...)
};

namespace detail {
std::string demangle(const char* mangled);

template <class C>
std::string command_name() {
  if constexpr (requires { C::command_type; })
    return std::string(C::command_type);
  else
    return demangle(typeid(C).name());
}

template <class T>
inline constexpr bool is_event_variant = false;
template <DomainEvent... Ts>
inline constexpr bool is_event_variant<std::variant<Ts...>> = true;

template <class T>
inline constexpr bool is_per_stream = false;
template <class S>
inline constexpr bool is_per_stream<PerStream<S>> = true;

template <class S, class Event>
concept StreamState = std::default_initializable<S> && std::copy_constructible<S> &&
                      (requires(S& s, const Event& e) { s.apply(e); } ||
                       requires(S& s, const StoredEvent& stored, const Event& e) { s.apply(stored, e); });

template <class S, class Event>
concept CrossStreamState = std::default_initializable<S> && std::copy_constructible<S> &&
                           (requires(S& s, const StreamId& id, const Event& e) { s.apply(id, e); } ||
                            requires(S& s, const StoredEvent& stored, const Event& e) { s.apply(stored, e); });

// A state that opts in to snapshots: a stable name, a schema version to bump
// when its fields change, and a cereal serialize member.
template <class S>
concept SnapshotState = requires {
  { S::snapshot_type } -> std::convertible_to<std::string_view>;
  { S::snapshot_schema } -> std::convertible_to<std::uint32_t>;
};

template <class S>
Payload encode_state(const void* state) {
  Payload payload;
  {
    PayloadWriteBuf buf(payload);
    StreamOver<std::ostream> os(&buf);
    cereal::PortableBinaryOutputArchive archive(os.get());
    archive(*static_cast<const S*>(state));
  }
  return payload;
}

template <class S>
std::shared_ptr<void> decode_state(std::span<const std::uint8_t> bytes) {
  auto state = std::make_shared<S>();
  PayloadReadBuf buf(bytes);
  StreamOver<std::istream> is(&buf);
  cereal::PortableBinaryInputArchive archive(is.get());
  archive(*state);
  return state;
}

// One object per domain event type: its address names the type
// (FoldOps::event_type, JobDecision::event_type).
template <class Event>
inline constexpr char event_type_tag = 0;

// The fold of S over one stream. `cross` folds a plain (cross-stream) State:
// apply(stream, event) and stream_read.
template <class S, class Event, bool cross>
struct Fold {
  static std::shared_ptr<void> fresh(const StreamId& stream) {
    auto state = std::make_shared<S>();
    if constexpr (cross && requires { state->stream_read(stream); }) state->stream_read(stream);
    (void)stream;
    return state;
  }
  static std::optional<Error> apply(void* state, const StoredEvent& stored) {
    auto event = EventCodec<Event>::decode(stored);
    if (!event) return std::move(event).error();
    auto& s = *static_cast<S*>(state);
    if constexpr (requires { s.apply(stored, *event); })
      s.apply(stored, *event);
    else if constexpr (cross)
      s.apply(stored.stream, *event);
    else
      s.apply(*event);
    return std::nullopt;
  }
  // Only for apply(const Event&): the other forms read the stored event.
  static constexpr bool by_event = !cross && !requires(S& s, const StoredEvent& stored, const Event& event) {
    s.apply(stored, event);
  };
  static void apply_emitted(void* state, const void* event) {
    static_cast<S*>(state)->apply(*static_cast<const Event*>(event));
  }
  static std::shared_ptr<void> clone(const void* state) { return std::make_shared<S>(*static_cast<const S*>(state)); }
  static constexpr FoldOps make_ops() {
    FoldOps ops{&fresh, &apply, &clone};
    if constexpr (SnapshotState<S>) {
      ops.snapshot_type = S::snapshot_type;
      ops.snapshot_schema = S::snapshot_schema;
      ops.encode = &encode_state<S>;
      ops.decode = &decode_state<S>;
    }
    if constexpr (by_event) {
      ops.apply_emitted = &apply_emitted;
      ops.event_type = &event_type_tag<Event>;
    }
    return ops;
  }
  static const FoldOps ops;
};
template <class S, class Event, bool cross>
constinit const FoldOps Fold<S, Event, cross>::ops = Fold<S, Event, cross>::make_ops();

// Events of several streams (each a std::vector<StoredEvent>) in global order.
std::vector<const StoredEvent*> in_global_order(std::span<const std::vector<StoredEvent>* const> streams);
}  // namespace detail

// Erases a command's types: the runtime only ever sees the CommandJob.
template <Command C>
CommandJobPtr make_job(C command, ExecuteOptions options = {}) {
  using Event = typename C::Event;
  using State = typename C::State;
  static_assert(detail::is_event_variant<Event>,
                "Command::Event must be a std::variant of DomainEvent types (each with a static "
                "constexpr std::string_view event_type and a cereal serialize member): see event_codec.hpp");
  constexpr bool per_stream = detail::is_per_stream<State>;
  if constexpr (per_stream) {
    static_assert(detail::StreamState<typename State::value_type, Event>,
                  "PerStream<S>: S must be default-constructible and copyable and have "
                  "void apply(const Event&) or void apply(const StoredEvent&, const Event&)");
  } else {
    static_assert(detail::CrossStreamState<State, Event>,
                  "Command::State must be default-constructible and copyable and have "
                  "void apply(const StreamId&, const Event&) or void apply(const StoredEvent&, const Event&); "
                  "for a state per stream use State = PerStream<S> with S::apply(const Event&)");
  }
  using Codec = EventCodec<Event>;
  auto job = std::make_shared<CommandJob>();
  job->name = detail::command_name<C>();
  job->streams = command.streams();
  job->idempotency_key = std::move(options.idempotency_key);
  job->fingerprint = std::move(options.fingerprint);
  if constexpr (requires { { command.idempotency_key() } -> std::convertible_to<std::optional<std::string>>; })
    if (!job->idempotency_key) job->idempotency_key = command.idempotency_key();
  job->metadata = std::move(options.metadata);
  if constexpr (per_stream) {
    using S = typename State::value_type;
    job->needs = [](std::size_t) -> const FoldNeeds& {
      static const FoldNeeds needs{&detail::Fold<S, Event, false>::ops};
      return needs;
    };
  } else {
    job->needs = [](std::size_t count) -> const FoldNeeds& {
      static const FoldNeeds one{&detail::Fold<State, Event, true>::ops};
      static const FoldNeeds several{detail::events_fold()};
      return count <= 1 ? one : several;
    };
  }
  job->decide = [command = std::move(command), metadata = job->metadata](
                    std::span<const StreamSnapshot> snapshots, const MonotonicClock& now,
                    std::chrono::steady_clock::time_point started) {
    JobDecision out;
    auto failed = [&](Error error) {
      out.kind = JobDecision::Kind::failed;
      out.error = std::move(error);
      return out;
    };
    // Two clock reads: handle's start, and the end (after encoding).
    std::chrono::steady_clock::time_point handle_started;
    auto decide = [&](const State& state) {
      handle_started = now();
      out.reconstruct = handle_started - started;
      return command.handle(state);
    };
    std::optional<Decision<Event>> decision;
    if constexpr (per_stream) {
      using S = typename State::value_type;
      std::vector<typename State::Entry> entries;
      entries.reserve(snapshots.size());
      for (const auto& snapshot : snapshots) {
        const void* s = snapshot.find(&detail::Fold<S, Event, false>::ops);
        if (!s) return failed(detail::missing_fold(snapshot.stream));
        entries.push_back({snapshot.stream, snapshot.version, static_cast<const S*>(s)});
      }
      decision = decide(State(std::move(entries)));
    } else if (snapshots.size() == 1) {
      const void* s = snapshots[0].find(&detail::Fold<State, Event, true>::ops);
      if (!s) return failed(detail::missing_fold(snapshots[0].stream));
      decision = decide(*static_cast<const State*>(s));
    } else {
      std::vector<const std::vector<StoredEvent>*> streams;
      for (const auto& snapshot : snapshots) {
        const void* events = snapshot.find(detail::events_fold());
        if (!events) return failed(detail::missing_fold(snapshot.stream));
        streams.push_back(static_cast<const std::vector<StoredEvent>*>(events));
      }
      State state;
      if constexpr (requires(const StreamId& id) { state.stream_read(id); })
        for (const auto& snapshot : snapshots) state.stream_read(snapshot.stream);
      for (const StoredEvent* stored : detail::in_global_order(streams))
        if (auto error = detail::Fold<State, Event, true>::apply(&state, *stored)) return failed(std::move(*error));
      decision = decide(state);
    }
    if (auto* rejected = decision->rejected()) {
      out.kind = JobDecision::Kind::reject;
      out.message = rejected->message;
      out.reason = rejected->reason;
    } else if (auto* more = decision->read_more()) {
      out.kind = JobDecision::Kind::need_streams;
      out.more_streams = more->streams;
    } else {
      out.kind = JobDecision::Kind::write;
      // The domain events stay with the decision: the stream actors advance
      // their folds by them on commit, without decoding what was encoded.
      // (Moving the vector keeps its elements where they are.)
      std::vector<Emit<Event>> emitted = std::move(*decision->events());
      out.events.reserve(emitted.size());
      for (auto& emit : emitted)
        out.events.push_back(EmittedEvent{std::move(emit.stream), Codec::encode(emit.event, metadata), &emit.event});
      out.event_type = &detail::event_type_tag<Event>;
      out.typed = std::make_shared<const std::vector<Emit<Event>>>(std::move(emitted));
    }
    out.decided_at = now();
    out.handle = out.decided_at - handle_started;
    return out;
  };
  return job;
}

}  // namespace eventcore
