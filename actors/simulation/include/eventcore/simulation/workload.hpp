#pragma once

// What a user writes to simulate their own domain: a Workload. It makes the
// commands of a run from the run's SimRandom, says what "another process"
// writes to its streams (foreign writes, which cause real conflicts),
// optionally provides a projection, and checks its domain's invariants
// over the final log. The harness (simulator.hpp) runs the commands through
// the real runtime on the deterministic scheduler, injects the faults and
// checks the generic invariants.
//
//   class MyWorkload : public simulation::Workload {
//     std::string name() const override { return "shop"; }
//     void setup(SimRandom& rng) override { carts_ = rng.between(2, 10); }
//     std::optional<CommandSpec> initial_command(std::uint64_t, SimRandom&) override { ... }
//     CommandSpec next_command(std::uint64_t id, SimRandom& rng) override {
//       return CommandSpec::of(AddItem{cart(rng), sku(rng)}, "AddItem ...");
//     }
//     void check(const RunView& run, Checker& check) const override {
//       // fold run.log; check.fail("stock never negative", "...") on a breach
//     }
//   };

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eventcore/actors/command.hpp"
#include "eventcore/actors/command_result.hpp"
#include "eventcore/simulation/random.hpp"
#include "eventcore/store/simulated_store.hpp"

namespace eventcore::simulation {

// One command the workload wants run, type-erased.
struct CommandSpec {
  std::string description;  // for the trace, e.g. "TransferMoney a1->a3 250"
  std::function<CommandJobPtr(ExecuteOptions)> make;

  template <Command C>
  static CommandSpec of(C command, std::string description) {
    return {std::move(description),
            [command = std::move(command)](ExecuteOptions options) { return make_job(command, std::move(options)); }};
  }
};

// What became of one command. The client submits it with an idempotency key
// (the same on every submission) and resubmits it after an ambiguous outcome
// (store_unavailable) or when its coordinator was killed; or, in some runs,
// without a key, and then only once.
struct CommandRecord {
  enum class Outcome { pending, ok, rejected, failed, ambiguous };

  std::uint64_t id = 0;
  std::string description;
  std::string key;                     // its idempotency key (empty: submitted without one)
  std::vector<ExecuteResult> results;  // one per submission that was answered
  std::size_t submissions = 0;
  std::size_t killed = 0;              // submissions whose coordinator was killed
  // Filled from the log before checks: transactions holding its events, and how many.
  std::vector<std::uint64_t> transactions;
  std::size_t events_in_log = 0;

  // From the last answer: ok; rejected (validation_failed); ambiguous
  // (store_unavailable or timeout: it may or may not have been written);
  // failed (anything else); pending (never answered).
  Outcome outcome() const;
  // Whether the log must not hold its events: it definitively failed and no
  // attempt of it can still have been in flight.
  bool must_not_have_written() const;
};

// A finished run, as the invariant checks see it.
struct RunView {
  const std::vector<StoredEvent>& log;          // every event, global order
  const std::vector<CommandRecord>& commands;   // index = command id
  const SimulatedStore& store;
  bool crashes = false;                         // whether any actor was killed

  // The command whose event this is (from the event's metadata), if any.
  static std::optional<std::uint64_t> command_of(const StoredEvent& event);
  const CommandRecord* record_of(const StoredEvent& event) const;
};

struct Violation {
  std::string invariant;
  std::string detail;
};

class Checker {
 public:
  void fail(std::string invariant, std::string detail) {
    violations_.push_back({std::move(invariant), std::move(detail)});
  }
  bool failed() const noexcept { return !violations_.empty(); }
  const std::vector<Violation>& violations() const noexcept { return violations_; }

 private:
  std::vector<Violation> violations_;
};

// A read model built from the log. The harness feeds one incrementally
// through read_all pages during the run, and a fresh one from the streams
// at the end: the two digests must be equal.
class Projection {
 public:
  virtual ~Projection() = default;
  virtual void apply(const StoredEvent& event) = 0;
  virtual std::string digest() const = 0;  // a canonical text of its state
};

class Workload {
 public:
  virtual ~Workload() = default;
  virtual std::string name() const = 0;
  // Chooses this run's shape (sizes, contention, command mix) from the seed.
  virtual void setup(SimRandom&) {}
  // Commands run before the mix, all at once (e.g. opening accounts); called
  // until it returns nothing. `id` is the command's id in the run.
  virtual std::optional<CommandSpec> initial_command(std::uint64_t /*id*/, SimRandom&) { return std::nullopt; }
  // The next command of the random mix.
  virtual CommandSpec next_command(std::uint64_t id, SimRandom& rng) = 0;
  // What another process appends to `stream` (which holds `events`); nothing
  // for streams it does not know.
  virtual std::optional<EventToWrite> foreign_event(const StreamId&, const std::vector<StoredEvent>& /*events*/,
                                                    SimRandom&) {
    return std::nullopt;
  }
  virtual std::unique_ptr<Projection> make_projection() const { return nullptr; }
  // The domain's invariants over the final log.
  virtual void check(const RunView&, Checker&) const {}
};

// One workload made of several (e.g. bank + orders on one runtime and store):
// each command comes from one of them at random.
std::unique_ptr<Workload> combine(std::string name, std::vector<std::unique_ptr<Workload>> parts);

}  // namespace eventcore::simulation
