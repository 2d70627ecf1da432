#pragma once

// An in-memory EventStore for deterministic simulations: the MemoryStore's
// semantics (it passes the same contract suite) plus seeded fault injection.
//
// Faults, each drawn from the injected random source:
// - transient: an append or a stream read fails with `unavailable`, nothing written;
// - ambiguous: an append commits, but its caller is told `unavailable` (the
//   reply was lost): a retry must recognise its own write;
// - foreign: just before an append, "another process" appends one event to
//   one of the append's streams (read-only participants included), so the
//   append meets a genuine concurrency conflict;
// - lost wake-up: an append's wake-up (watch_appends) is not delivered, so
//   a follower learns of the events only from its next poll or a later append.
// Latency is not the store's business: the simulation's scheduler delays
// the actors that call it, in simulated time.
//
// With no faults, no clock and no random source configured it behaves like
// MemoryStore (stamping events with the system clock). The simulation injects
// its simulated clock and its seeded random source; nothing here then reads
// the wall clock or a global RNG.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eventcore/store/event_store.hpp"

namespace eventcore {

struct SimulatedStoreFaults {
  double transient_append = 0;  // probability an append fails, writing nothing
  double transient_read = 0;    // probability a read_stream fails
  double ambiguous = 0;         // probability a successful append is reported as failed
  double foreign = 0;           // probability a foreign write precedes an append
  double lost_wakeup = 0;       // probability an append's wake-up is not delivered

  bool any() const noexcept {
    return transient_append > 0 || transient_read > 0 || ambiguous > 0 || foreign > 0 || lost_wakeup > 0;
  }
};

// What the store did, for a simulation's trace.
struct SimulatedStoreOp {
  enum class Kind {
    append, append_failed, transient_append, ambiguous_append, transient_read, foreign_write, lost_wakeup
  };
  Kind kind;
  std::string detail;  // e.g. the streams and versions
};

struct SimulatedStoreOptions {
  StoreLimits limits;
  SimulatedStoreFaults faults;
  // Random bits for fault decisions (required when faults are on).
  std::function<std::uint64_t()> random;
  // Stamps recorded_at (default: the system clock).
  std::function<Timestamp()> clock;
  // What another process appends to `stream`, given its current events; no
  // value means it writes nothing there (e.g. a stream it never touches).
  std::function<std::optional<EventToWrite>(const StreamId& stream, const std::vector<StoredEvent>& events)>
      foreign_writer;
  // Called for every append outcome and injected fault.
  std::function<void(const SimulatedStoreOp&)> observer;
};

class SimulatedStore final : public EventStore {
 public:
  explicit SimulatedStore(SimulatedStoreOptions options = {});
  ~SimulatedStore() override;

  Result<AppendResult> append(const AppendRequest& request) override;
  Result<StreamPage> read_stream(const StreamId& stream, StreamVersion from, std::size_t max_count,
                                 StreamVersion to = StreamVersion{~std::uint64_t{0}}) override;
  Result<ReadAllPage> read_all(GlobalPosition after, std::size_t max_count,
                               const EventFilter& filter = {}) override;
  Result<StreamVersion> stream_version(const StreamId& stream) override;
  Result<std::vector<StreamInfo>> list_streams(std::string_view prefix, std::string_view after,
                                               std::size_t max_count) override;
  Result<StoreTotals> totals() override;
  Result<std::optional<Snapshot>> load_snapshot(const StreamId& stream, std::string_view type,
                                                std::uint32_t schema) override;
  Status save_snapshot(const Snapshot& snapshot) override;
  Result<std::optional<CommandRecord>> load_command_record(std::string_view key) override;
  Result<std::uint64_t> expire_command_records(std::chrono::seconds older_than) override;
  // The inner store's wake-ups (on the appender's thread), unless a lost
  // wake-up is drawn; its backlog.
  std::unique_ptr<AppendWatch> watch_appends(std::function<void()> wake) override;
  Result<ReadBacklog> backlog(GlobalPosition after, const EventFilter& filter = {}) override;

  // Turns fault injection off (e.g. while invariants are checked) or on again.
  void set_faults_enabled(bool on);

  // An append by another process (never faulted, never observed as ours).
  Result<AppendResult> foreign_append(const AppendRequest& request);

  // Every event, in global order (for invariant checks; no paging).
  std::vector<StoredEvent> log() const;
  // Whether the event was written by foreign_append or an injected foreign write.
  bool is_foreign(const EventId& id) const;

  struct Stats {
    std::uint64_t appends = 0;              // committed (ambiguous ones included)
    std::uint64_t conflicts = 0;            // appends rejected for a version
    std::uint64_t unexplained_conflicts = 0;  // ...where no foreign write moved the stream
    std::uint64_t transient_appends = 0, transient_reads = 0, ambiguous = 0, foreign_writes = 0;
    std::uint64_t lost_wakeups = 0;
  };
  Stats stats() const;
  // The first conflict that no foreign write explains (empty if none): a
  // conflict between writers of this process, which the actors must prevent.
  std::string first_unexplained_conflict() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace eventcore
