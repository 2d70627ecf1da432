#pragma once

#include <functional>
#include <memory>

#include "eventcore/actors/command.hpp"
#include "eventcore/actors/command_result.hpp"
#include "eventcore/actors/metrics.hpp"
#include "eventcore/actors/retry_policy.hpp"
#include "eventcore/actors/runtime_config.hpp"
#include "eventcore/store/event_store.hpp"

// The executor is plain code: this header needs no CAF. Actors that call it
// use the gateway (actor_gateway.hpp).
namespace caf {
class actor_system;
}

namespace eventcore {
namespace detail {
struct ExecutorAccess;
}

// Runs commands against an EventStore through the actor runtime: one stream
// actor per stream serializes writers in this process, the store's version
// check arbitrates between processes, and failed attempts are retried per
// the RetryPolicy.
//
//   auto executor = CommandExecutor::builder()
//                       .with_store(store)
//                       .with_retry_policy(RetryPolicy::exponential(10ms, 2.0, 1s, 8))
//                       .build().value();
//   ExecuteResult r = executor.execute_sync(TransferMoney{from, to, amount});
//
// A CommandExecutor is a cheap handle (copies share one runtime); the runtime
// stops when the last copy is gone or on shutdown(). All methods are
// thread-safe.
//
// Outcomes (the same however the command runs):
// - ok: every event was written, atomically, with every declared stream at
//   the version the command decided on. `replayed`: an earlier execution
//   with the same idempotency key wrote them; nothing was written now.
// - validation_failed (handle rejected), undeclared_stream, invalid_command
//   (no stream, a stream twice, a key reused with another command, handle or
//   apply threw), stream_discovery_limit: final, nothing written, not retried.
// - concurrency_conflict: another process moved a stream on every attempt
//   the RetryPolicy allowed (conflicts are retried by default); nothing of
//   this command was written.
// - store_unavailable: the store could not be reached on every attempt
//   allowed (transient failures are retried only with retry_transient()).
//   Before any retry the runtime looks for the events of an attempt whose
//   append failed this way, so a retry never writes a command twice, with
//   or without a key; if the last such attempt is still unresolved, the
//   message says so, and the command may have been written.
// - store_failed: the store rejected the append, or a stored event does not
//   decode: not retried.
// - timeout: the command did not finish within RuntimeConfig::command_timeout.
//   It may have committed. Executing it again with the same idempotency key
//   is safe (it returns the first result if it did); without a key, read the
//   streams first.
class CommandExecutor {
 public:
  using Callback = std::function<void(const ExecuteResult&)>;

  class Builder {
   public:
    Builder& with_store(std::shared_ptr<EventStore> store);
    Builder& with_retry_policy(RetryPolicy policy);
    Builder& with_config(RuntimeConfig config);
    // Run on this actor system (which must outlive the executor); without it
    // the executor starts and owns a system of its own.
    Builder& with_system(caf::actor_system& system);
    // Random bits for retry jitter (default: seeded once from std::random_device).
    Builder& with_random_source(RandomSource random);
    // The clock for phase timings (default: steady_clock).
    Builder& with_clock(MonotonicClock clock);
    // The clock that stamps events cached after a commit (default: system_clock).
    Builder& with_wall_clock(std::function<Timestamp()> clock);
    // Where the runtime counts commands, events and retries (default: a
    // registry of its own, see metrics()). Several executors may share one.
    Builder& with_metrics(std::shared_ptr<RuntimeMetrics> metrics);
    // Errors: invalid_argument when no store was given or the config is unusable.
    Result<CommandExecutor> build();

   private:
    friend class CommandExecutor;
    struct Parts;
    std::shared_ptr<Parts> parts_;
  };

  static Builder builder();

  // Starts the command; `done` is called exactly once, on an actor's thread
  // (keep it short, never block in it).
  template <Command C>
  void execute(C command, Callback done, ExecuteOptions options = {}) const {
    submit(make_job(std::move(command), std::move(options)), std::move(done));
  }

  // Runs the command and waits for its outcome. For plain code only: never
  // call it from an actor (or under the deterministic test scheduler).
  template <Command C>
  ExecuteResult execute_sync(C command, ExecuteOptions options = {}) const {
    return run(make_job(std::move(command), std::move(options)));
  }

  void submit(CommandJobPtr job, Callback done) const;
  ExecuteResult run(CommandJobPtr job) const;

  // The runtime's counters and histograms (render_prometheus() for /metrics).
  const std::shared_ptr<RuntimeMetrics>& metrics() const;

  // Stops the runtime's actors; commands still running fail.
  void shutdown() const;

 private:
  friend struct detail::ExecutorAccess;
  struct Runtime;
  explicit CommandExecutor(std::shared_ptr<Runtime> runtime) : runtime_(std::move(runtime)) {}
  std::shared_ptr<Runtime> runtime_;
};

}  // namespace eventcore
