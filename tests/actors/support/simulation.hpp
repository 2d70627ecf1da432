#pragma once

// A runtime on CAF's deterministic scheduler (test_coordinator): nothing
// runs until the test drives it, time moves only when the test says so.

#include <memory>
#include <optional>

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/actors/detail/protocol.hpp"
#include "support/scripted_store.hpp"
#include "support/test_domain.hpp"

namespace eventcore::testing {

// For the tests' stand-in coordinators: take a stream, let go of it.
using hold_atom = caf::atom_constant<caf::atom("hold")>;
using let_go_atom = caf::atom_constant<caf::atom("letgo")>;

// A stand-in coordinator: on (hold, stream) acquires the stream through the
// registry and hands the stream's actor to the test (to kill it, say); on
// (letgo) releases it.
inline caf::behavior grabber(caf::event_based_actor* self, caf::actor registry, std::shared_ptr<caf::actor> granted) {
  return {
      [=](hold_atom, const StreamId& stream) {
        self->request(registry, caf::infinite, detail::acquire_atom::value, stream).then([=](detail::StreamGrant& grant) {
          REQUIRE(grant.version);
          *granted = grant.stream_actor;
        });
      },
      [=](let_go_atom) { self->send(*granted, detail::release_atom::value, self->id(), false); },
  };
}

// The ways a command runs: on one stream or two, on the actor of its first
// stream (the fast path), and with an idempotency key on a write coordinator.
struct CommandPath {
  std::vector<StreamId> streams;
  bool keyed = false;
};
inline std::vector<CommandPath> every_path() {
  return {{{sid("a")}, false}, {{sid("a"), sid("b")}, false}, {{sid("a"), sid("b")}, true}};
}
// Options for a command on `keyed`'s path: a key of its own, counted in `keys`.
inline ExecuteOptions path_options(bool keyed, std::size_t& keys) {
  ExecuteOptions options;
  if (keyed) options.idempotency_key = "path-key-" + std::to_string(keys++);
  return options;
}

inline RuntimeConfig simulation_config() {
  RuntimeConfig config;
  config.io_mode = IoMode::cooperative;  // detached actors get real threads even under test_coordinator
  config.io_actors = 1;
  config.idle_sweep_interval = std::chrono::milliseconds(0);
  return config;
}

struct Simulation {
  explicit Simulation(RuntimeConfig config = simulation_config(),
                      RetryPolicy retry = RetryPolicy::fixed(std::chrono::milliseconds(0), 5))
      : config(config), retry(retry) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    system = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(system->scheduler());
    start_executor();
  }
  void start_executor() {
    executor = CommandExecutor::builder()
                   .with_system(*system)
                   .with_store(store)
                   .with_retry_policy(retry)
                   .with_config(config)
                   .with_random_source(seeded_random(42))
                   .with_clock(clock)
                   .build()
                   .value();
  }
  // A process restart: a new runtime (nothing cached) on the same store.
  void restart() {
    executor->shutdown();
    executor.reset();
    drain();
    start_executor();
  }
  ~Simulation() {
    executor->shutdown();
    executor.reset();
    drain();
    system.reset();
  }
  void drain() {
    sched->run();
    while (sched->trigger_timeouts() > 0) sched->run();
  }

  using Slot = std::shared_ptr<std::optional<ExecuteResult>>;

  // Starts a command; its result appears in the slot once the scheduler ran it.
  template <class C>
  Slot start(C command, ExecuteOptions options = {}) {
    auto slot = std::make_shared<std::optional<ExecuteResult>>();
    executor->execute(std::move(command), [slot](const ExecuteResult& r) { *slot = r; }, std::move(options));
    return slot;
  }

  template <class C>
  ExecuteResult run(C command, ExecuteOptions options = {}) {
    auto slot = start(std::move(command), std::move(options));
    sched->run();
    REQUIRE(slot->has_value());
    return **slot;
  }

  std::size_t live_stream_actors() {
    auto count = std::make_shared<std::size_t>(~std::size_t{0});
    // Arguments, not captures: CAF 0.17 dereferences a null tuple pointer
    // when a function actor is spawned with no arguments (UBSan flags it).
    system->spawn(
        [](caf::event_based_actor* self, caf::actor registry, std::shared_ptr<std::size_t> out) {
          self->request(registry, caf::infinite, live_count_atom::value).then([=](std::size_t n) { *out = n; });
        },
        stream_registry(*executor), count);
    sched->run();
    return *count;
  }

  std::int64_t total(const StreamId& stream) {
    std::int64_t sum = 0;
    auto events = store->inner.read_stream(stream, StreamVersion{1}, 100000);
    REQUIRE(events.ok());
    for (const auto& e : *events)
      if (auto ev = EventCodec<TestEvent>::decode(e); ev.ok())
        if (auto* a = std::get_if<Added>(&*ev)) sum += a->amount;
    return sum;
  }

  RuntimeConfig config;
  RetryPolicy retry;
  MonotonicClock clock;  // the runtime's phase clock (empty: the steady clock); set, then restart()
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> system;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<ScriptedStore> store = std::make_shared<ScriptedStore>();
  std::optional<CommandExecutor> executor;
};

}  // namespace eventcore::testing
