#pragma once

// The command concept: what a user writes.
//
//   struct Deposit {
//     using Event = bank::Event;                       // a std::variant of domain events
//     using State = bank::Accounts;                    // folded from the declared streams
//     AccountId account; Money amount;
//
//     std::vector<StreamId> streams() const { return {account.stream()}; }
//     Decision<Event> handle(const State& s) const {
//       if (!s.is_open(account)) return reject("account " + account.str() + " is not open");
//       return {{account.stream(), MoneyDeposited{account.str(), amount.cents()}}};
//     }
//   };
//
// - streams() declares every stream the command reads or writes. All of them
//   are version-checked at commit, read-only ones too.
// - State is default-constructible and has
//     void apply(const StreamId& stream, const Event& event)   or
//     void apply(const StoredEvent& stored, const Event& event)
//   It is folded from the events of every declared stream in global order.
//   Optionally `void stream_read(const StreamId&)`, called once for every
//   stream read (empty ones included) before any event is applied: how a
//   State tells "read, and empty" from "not read" for dynamic discovery.
// - handle is pure. It returns events, each naming its target stream (an event
//   for an undeclared stream fails the command with
//   CommandErrorCode::undeclared_stream before anything is written);
//   reject(message) (never retried); or read_more({streams}) to add streams
//   found in the state (dynamic discovery): the runtime reads them, folds
//   again and calls handle again, up to a configured number of rounds.
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

struct Rejected {
  std::string message;
};
inline Rejected reject(std::string message) { return Rejected{std::move(message)}; }

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
  const Rejected* rejected() const { return std::get_if<1>(&data_); }
  const ReadMore* read_more() const { return std::get_if<2>(&data_); }

 private:
  std::variant<std::vector<Emit<Event>>, Rejected, ReadMore> data_;
};

template <class C>
concept Command = requires(const C& command, const typename C::State& state) {
  typename C::Event;
  requires std::default_initializable<typename C::State>;
  { command.streams() } -> std::convertible_to<std::vector<StreamId>>;
  { command.handle(state) } -> std::same_as<Decision<typename C::Event>>;
};

// Per-execution options that are not part of the command's meaning.
struct ExecuteOptions {
  // Executing twice with the same key returns the first result and writes
  // nothing the second time, also after an ambiguous outcome. Overrides the
  // command's own idempotency_key().
  std::optional<std::string> idempotency_key;
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

// The FoldCache key of a (State, Event) pair: the address of this variable.
template <class State, class Event>
inline constexpr char fold_key = 0;

// Events of all snapshots in global order (a multi-stream fold sees them as
// they were committed).
std::vector<const StoredEvent*> in_global_order(std::span<const StreamSnapshot> snapshots);
}  // namespace detail

// Erases a command's types: the runtime only ever sees the CommandJob.
template <Command C>
CommandJobPtr make_job(C command, ExecuteOptions options = {}) {
  using Event = typename C::Event;
  using State = typename C::State;
  using Codec = EventCodec<Event>;
  auto job = std::make_shared<CommandJob>();
  job->name = detail::command_name<C>();
  job->streams = command.streams();
  job->idempotency_key = std::move(options.idempotency_key);
  if constexpr (requires { { command.idempotency_key() } -> std::convertible_to<std::optional<std::string>>; })
    if (!job->idempotency_key) job->idempotency_key = command.idempotency_key();
  job->metadata = std::move(options.metadata);
  job->decide = [command = std::move(command), metadata = job->metadata](
                    std::span<const StreamSnapshot> snapshots, const MonotonicClock& now) {
    JobDecision out;
    const auto t0 = now();
    auto apply = [&](State& state, const StoredEvent& stored) -> bool {
      auto event = Codec::decode(stored);
      if (!event) {
        out.kind = JobDecision::Kind::failed;
        out.error = std::move(event).error();
        return false;
      }
      if constexpr (requires { state.apply(stored, *event); })
        state.apply(stored, *event);
      else
        state.apply(stored.stream, *event);
      return true;
    };
    auto fresh = [&](std::span<const StreamSnapshot> read) {
      auto state = std::make_shared<State>();
      if constexpr (requires(const StreamId& id) { state->stream_read(id); })
        for (const auto& snapshot : read) state->stream_read(snapshot.stream);
      return state;
    };
    std::shared_ptr<State> state;
    if (snapshots.size() == 1 && snapshots[0].folds && snapshots[0].events) {
      // One stream: continue the stream actor's cached fold of this State
      // from its version (events are only ever appended to a cached stream).
      const auto& snapshot = snapshots[0];
      auto& entries = snapshot.folds->entries;
      const void* key = &detail::fold_key<State, Event>;
      auto it = std::find_if(entries.begin(), entries.end(), [&](const FoldCache::Entry& e) { return e.key == key; });
      if (it == entries.end()) {
        entries.push_back(FoldCache::Entry{key, nullptr, 0});
        it = std::prev(entries.end());
      }
      if (!it->state || it->version > snapshot.version.value) {
        it->state = fresh(snapshots);
        it->version = 0;
      }
      // Out of the cache while it changes: an apply that fails (or throws)
      // leaves no partly applied state behind.
      state = std::static_pointer_cast<State>(std::move(it->state));
      const auto& events = *snapshot.events;
      auto version = it->version;
      for (; version < snapshot.version.value && version < events.size(); ++version)
        if (!apply(*state, events[version])) {
          entries.erase(it);
          return out;
        }
      it->state = state;
      it->version = version;
    } else {
      state = fresh(snapshots);
      for (const StoredEvent* stored : detail::in_global_order(snapshots))
        if (!apply(*state, *stored)) return out;
    }
    const auto t1 = now();
    Decision<Event> decision = command.handle(std::as_const(*state));
    out.reconstruct = t1 - t0;
    out.handle = now() - t1;
    if (auto* rejected = decision.rejected()) {
      out.kind = JobDecision::Kind::reject;
      out.message = rejected->message;
    } else if (auto* more = decision.read_more()) {
      out.kind = JobDecision::Kind::need_streams;
      out.more_streams = more->streams;
    } else {
      out.kind = JobDecision::Kind::write;
      for (const auto& emit : *decision.events())
        out.events.push_back(EmittedEvent{emit.stream, Codec::encode(emit.event, metadata)});
    }
    return out;
  };
  return job;
}

}  // namespace eventcore
