// The fast path: a command without an idempotency key runs on the actor of
// its first stream (in id order), which acquires the command's other streams
// from their actors, without a write coordinator. It must keep every
// guarantee of the coordinator path: FIFO with the coordinators'
// transactions, timeouts, nothing held after a failure, no command lost when
// its actor dies, a clear answer after shutdown.

#include <algorithm>
#include <cstring>

#include "support/simulation.hpp"

using namespace eventcore;
using namespace eventcore::testing;
using namespace eventcore::detail;
using namespace std::chrono_literals;

namespace {

// The actor of `stream` (spawned if need be), idle again when this returns.
caf::actor actor_of(Simulation& sim, const StreamId& stream) {
  auto granted = std::make_shared<caf::actor>();
  auto h = sim.system->spawn(grabber, stream_registry(*sim.executor), granted);
  caf::anon_send(h, hold_atom::value, stream);
  sim.sched->run();
  caf::anon_send(h, let_go_atom::value);
  sim.sched->run();
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  REQUIRE(*granted);
  return *granted;
}

// A stand-in coordinator that holds `stream` until sent let_go_atom.
caf::actor stand_in_holding(Simulation& sim, const StreamId& stream) {
  auto granted = std::make_shared<caf::actor>();
  auto h = sim.system->spawn(grabber, stream_registry(*sim.executor), granted);
  caf::anon_send(h, hold_atom::value, stream);
  sim.sched->run();
  REQUIRE(*granted);
  return h;
}

// Waits out a command_timeout of 500 ms: the command, still waiting, fails with timeout.
void expect_timeout(Simulation& sim, const Simulation::Slot& waiting) {
  sim.sched->run();
  CHECK_FALSE(waiting->has_value());
  sim.sched->advance_time(500ms);
  sim.sched->run();
  REQUIRE(waiting->has_value());
  REQUIRE_FALSE((*waiting)->ok());
  CHECK((*waiting)->error().code == CommandErrorCode::timeout);
}

std::size_t coordinators_scheduled(Simulation& sim) {
  std::size_t n = 0;
  for (auto* job : sim.sched->jobs)
    if (auto* actor = dynamic_cast<caf::local_actor*>(job))
      if (std::strcmp(actor->name(), "eventcore.write_coordinator") == 0) ++n;
  return n;
}

}  // namespace

TEST_CASE("a command without an idempotency key needs no write coordinator, on one stream or several") {
  Simulation sim;
  REQUIRE(sim.run(AddTo{{sid("warm")}, 1}).ok());  // the stream's actor exists now

  auto single = sim.start(AddTo{{sid("warm")}, 1});
  CHECK(coordinators_scheduled(sim) == 0);
  sim.sched->run();
  REQUIRE(single->has_value());
  REQUIRE((*single)->ok());
  CHECK((**single)->attempts == 1);
  CHECK((**single)->events_written == 1);
  CHECK((**single)->stream_versions.at(0).version.value == 2);
  CHECK((**single)->positions.size() == 1);

  // Declared out of order: the first in id order ("other") runs it.
  auto two = sim.start(AddTo{{sid("warm"), sid("other")}, 1});
  CHECK(coordinators_scheduled(sim) == 0);
  sim.sched->run();
  REQUIRE(two->has_value());
  REQUIRE((*two)->ok());
  CHECK((**two)->attempts == 1);
  CHECK((**two)->events_written == 2);
  REQUIRE((**two)->stream_versions.size() == 2);
  CHECK((**two)->stream_versions[0].stream == sid("other"));
  CHECK((**two)->stream_versions[0].version.value == 1);
  CHECK((**two)->stream_versions[1].stream == sid("warm"));
  CHECK((**two)->stream_versions[1].version.value == 3);
  CHECK((**two)->positions.size() == 2);
  // Each stream actor's folds followed the commit: the next one reads nothing.
  const auto reads = sim.store->reads;
  REQUIRE(sim.run(AddTo{{sid("other"), sid("warm")}, 1}).ok());
  CHECK(sim.store->reads == reads);

  // An idempotency key: a coordinator runs it.
  ExecuteOptions keyed;
  keyed.idempotency_key = "k-1";
  auto with_key = sim.start(AddTo{{sid("warm")}, 1}, keyed);
  CHECK(coordinators_scheduled(sim) == 1);
  sim.sched->run();
  REQUIRE(with_key->has_value());
  CHECK((*with_key)->ok());
  CHECK(sim.total(sid("warm")) == 5);
  CHECK(sim.executor->metrics()->commands("AddTo", "ok") == 5);
}

TEST_CASE("a fast-path command over several streams waits its turn on each, and so do the commands behind it") {
  Simulation sim;
  auto h = stand_in_holding(sim, sid("y"));

  auto transfer = sim.start(AddTo{{sid("y"), sid("x")}, 5});  // holds "x", waits for "y"
  auto behind = sim.start(AddTo{{sid("x")}, -5});             // valid only after the transfer
  auto elsewhere = sim.start(AddTo{{sid("z")}, 1});
  sim.sched->run();
  CHECK_FALSE(transfer->has_value());
  CHECK_FALSE(behind->has_value());
  REQUIRE(elsewhere->has_value());  // other streams go on meanwhile
  CHECK((*elsewhere)->ok());

  caf::anon_send(h, let_go_atom::value);
  sim.sched->run();
  REQUIRE((transfer->has_value() && behind->has_value()));
  REQUIRE((*transfer)->ok());
  REQUIRE((*behind)->ok());
  CHECK(sim.total(sid("x")) == 0);
  CHECK(sim.total(sid("y")) == 5);
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("a fast-path command that cannot get its second stream in time fails with timeout and lets the first go") {
  RuntimeConfig config = simulation_config();
  config.command_timeout = 500ms;
  Simulation sim(config);
  auto h = stand_in_holding(sim, sid("t2"));

  auto waiting = sim.start(AddTo{{sid("t1"), sid("t2")}, 1});  // holds "t1", waits for "t2"
  expect_timeout(sim, waiting);
  CHECK(sim.run(AddTo{{sid("t1")}, 1}).ok());  // "t1" is free, "t2" still held

  // The late grant of "t2" is given back at once: "t2" is free once the stand-in lets go.
  caf::anon_send(h, let_go_atom::value);
  sim.sched->run();
  CHECK(sim.run(AddTo{{sid("t2")}, 2}).ok());
  CHECK(sim.run(AddTo{{sid("t1"), sid("t2")}, 1}).ok());
  CHECK(sim.total(sid("t1")) == 2);
  CHECK(sim.total(sid("t2")) == 3);
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("a fast-path command whose first stream's actor dies while it waits for its second is retried, not lost") {
  const bool retry_transient = GENERATE(false, true);
  Simulation sim(simulation_config(), RetryPolicy::fixed(0ms, 5).retry_transient(retry_transient));
  auto h = stand_in_holding(sim, sid("d2"));
  auto first = actor_of(sim, sid("d1"));
  auto waiting = sim.start(AddTo{{sid("d1"), sid("d2")}, 1});  // holds "d1", waits for "d2"
  sim.sched->run();
  CHECK_FALSE(waiting->has_value());

  caf::anon_send_exit(first, caf::exit_reason::kill);
  sim.sched->run();
  if (!retry_transient) {
    // Nothing was written, and the policy does not retry: answered now.
    REQUIRE(waiting->has_value());
    REQUIRE_FALSE((*waiting)->ok());
    CHECK((*waiting)->error().code == CommandErrorCode::store_unavailable);
  }
  // "d2"'s actor dropped the dead actor's place in its queue: once the
  // stand-in lets go, the retry (a coordinator) gets it.
  caf::anon_send(h, let_go_atom::value);
  sim.sched->run();
  REQUIRE(waiting->has_value());
  if (retry_transient) {
    REQUIRE((*waiting)->ok());
    CHECK((**waiting)->attempts == 2);
    CHECK(sim.total(sid("d1")) == 1);
    CHECK(sim.total(sid("d2")) == 1);
  } else {
    CHECK(sim.total(sid("d1")) == 0);
  }
  CHECK(sim.run(AddTo{{sid("d1"), sid("d2")}, 1}).ok());
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("a stream led by many others forgets the idle leaders, never one that waits for it") {
  // Each leading actor is monitored by the stream it acquires; past a few,
  // the idle ones are demonitored (memory stays bounded). One that waits
  // must stay monitored: when it dies, its place in the queue must go.
  Simulation sim(simulation_config(), RetryPolicy::fixed(0ms, 5).retry_transient());
  const auto hub = sid("hub");
  auto name = [](char prefix, int i) { return sid(std::string(1, prefix) + std::to_string(10 + i)); };
  for (int i = 0; i < 20; ++i) REQUIRE(sim.run(AddTo{{name('a', i), hub}, 1}).ok());  // 20 idle leaders

  auto h = stand_in_holding(sim, hub);
  auto victim = actor_of(sim, name('b', 5));
  std::vector<Simulation::Slot> waiting;
  for (int i = 0; i < 12; ++i) waiting.push_back(sim.start(AddTo{{name('b', i), hub}, 1}));  // each waits for "hub"
  sim.sched->run();
  for (const auto& w : waiting) CHECK_FALSE(w->has_value());

  caf::anon_send_exit(victim, caf::exit_reason::kill);
  sim.sched->run();
  caf::anon_send(h, let_go_atom::value);
  sim.sched->run();
  for (const auto& w : waiting) {
    REQUIRE(w->has_value());
    CHECK((*w)->ok());
  }
  CHECK(sim.total(hub) == 20 + 12);
  CHECK(sim.run(AddTo{{name('a', 0), hub}, 1}).ok());  // "hub" is not held by the dead leader
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("a conflict on another stream of a fast-path command reloads both and retries through a coordinator") {
  Simulation sim;
  REQUIRE(sim.run(AddTo{{sid("p"), sid("q")}, 10}).ok());
  sim.store->foreign_append(sid("q"), added(-10));  // another process empties "q"
  auto result = sim.run(AddTo{{sid("p"), sid("q")}, -5});
  REQUIRE_FALSE(result.ok());  // the retry saw the foreign event
  CHECK(result.error().code == CommandErrorCode::validation_failed);
  CHECK(result.error().attempts == 2);
  CHECK(sim.executor->metrics()->retries(RetryReason::conflict) == 1);
  // Both caches follow the store again: a deposit and a transfer go through first time.
  auto deposit = sim.run(AddTo{{sid("q")}, 5});
  REQUIRE(deposit.ok());
  CHECK(deposit->attempts == 1);
  auto transfer = sim.run(AddTo{{sid("p"), sid("q")}, -5});
  REQUIRE(transfer.ok());
  CHECK(transfer->attempts == 1);
  CHECK(sim.total(sid("p")) == 5);
  CHECK(sim.total(sid("q")) == 0);
}

TEST_CASE("fast-path commands wait their turn behind a coordinator's transaction, in FIFO order") {
  Simulation sim;
  auto h = stand_in_holding(sim, sid("q"));

  auto first = sim.start(AddTo{{sid("q")}, 5});
  auto second = sim.start(AddTo{{sid("q")}, -5});  // valid only after the first
  sim.sched->run();
  CHECK_FALSE(first->has_value());
  CHECK_FALSE(second->has_value());

  caf::anon_send(h, let_go_atom::value);
  sim.sched->run();
  REQUIRE((first->has_value() && second->has_value()));
  REQUIRE((*first)->ok());
  REQUIRE((*second)->ok());
  CHECK((**first)->stream_versions.at(0).version.value == 1);
  CHECK((**second)->stream_versions.at(0).version.value == 2);
  CHECK(sim.total(sid("q")) == 0);
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("a fast-path command that cannot get its stream in time fails with timeout and writes nothing") {
  RuntimeConfig config = simulation_config();
  config.command_timeout = 500ms;
  Simulation sim(config);
  auto h = stand_in_holding(sim, sid("t"));

  auto waiting = sim.start(AddTo{{sid("t")}, 1});
  expect_timeout(sim, waiting);
  CHECK((*waiting)->error().command == "AddTo");

  caf::anon_send(h, let_go_atom::value);
  sim.sched->run();
  CHECK(sim.store->appends.empty());  // the timed-out command never ran
  CHECK(sim.run(AddTo{{sid("t")}, 1}).ok());
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("a fast-path command still in the mailbox of a stream actor that dies is retried, not lost") {
  const bool retry_transient = GENERATE(false, true);
  Simulation sim(simulation_config(), RetryPolicy::fixed(0ms, 5).retry_transient(retry_transient));
  caf::anon_send_exit(actor_of(sim, sid("m")), caf::exit_reason::kill);  // the actor dies on its next turn...
  auto pending = sim.start(AddTo{{sid("m")}, 1});           // ...with this command behind the kill
  sim.sched->run();
  REQUIRE(pending->has_value());
  if (retry_transient) {
    // Nothing was written: the retry (a coordinator, a fresh stream actor) is safe.
    REQUIRE((*pending)->ok());
    CHECK((**pending)->attempts == 2);
    CHECK(sim.total(sid("m")) == 1);
  } else {
    REQUIRE_FALSE((*pending)->ok());
    CHECK((*pending)->error().code == CommandErrorCode::store_unavailable);
    CHECK(sim.total(sid("m")) == 0);
  }
}

TEST_CASE("a fast-path command whose append is in flight when its stream actor dies is answered, never retried") {
  // The store I/O actor has the append; the stream actor dies before the
  // answer. The append may have landed (here it does): store_unavailable
  // says the outcome is unknown, and the runtime does not write it again.
  Simulation sim(simulation_config(), RetryPolicy::fixed(0ms, 5).retry_transient(true));
  REQUIRE(sim.run(AddTo{{sid("f")}, 0}).ok());       // the stream actor now holds the command's fold
  auto actor = actor_of(sim, sid("f"));
  auto in_flight = sim.start(AddTo{{sid("f")}, 1});  // runs first: decides, hands its append to the I/O actor
  caf::anon_send_exit(actor, caf::exit_reason::kill);
  sim.sched->run();
  REQUIRE(in_flight->has_value());
  REQUIRE_FALSE((*in_flight)->ok());
  CHECK((*in_flight)->error().code == CommandErrorCode::store_unavailable);
  CHECK((*in_flight)->error().message.find("in flight") != std::string::npos);
  CHECK(sim.total(sid("f")) == 1);  // written once, not twice
}

TEST_CASE("a conflict on the fast path reloads the stream and retries through a coordinator") {
  Simulation sim;
  REQUIRE(sim.run(AddTo{{sid("c")}, 10}).ok());
  sim.store->foreign_append(sid("c"), added(-10));  // another process empties it
  auto result = sim.run(AddTo{{sid("c")}, -5});
  REQUIRE_FALSE(result.ok());  // the retry saw the foreign event
  CHECK(result.error().code == CommandErrorCode::validation_failed);
  CHECK(result.error().attempts == 2);
  CHECK(sim.executor->metrics()->retries(RetryReason::conflict) == 1);
  CHECK(sim.total(sid("c")) == 0);
}

TEST_CASE("after shutdown a command is answered with store_unavailable, not dropped") {
  Simulation sim;
  REQUIRE(sim.run(AddTo{{sid("s")}, 1}).ok());
  sim.executor->shutdown();
  sim.sched->run();
  for (auto streams : {std::vector<StreamId>{sid("s")}, std::vector<StreamId>{sid("s"), sid("u")}}) {
    auto late = sim.start(AddTo{streams, 1});
    sim.drain();
    REQUIRE(late->has_value());
    REQUIRE_FALSE((*late)->ok());
    CHECK((*late)->error().code == CommandErrorCode::store_unavailable);
  }
  CHECK(sim.total(sid("s")) == 1);
}

TEST_CASE("actors reach the runtime through the gateway, on either path") {
  Simulation sim;
  auto results = std::make_shared<std::vector<ExecuteResult>>();
  auto client = sim.system->spawn(
      [](caf::event_based_actor* self, caf::actor gateway, std::shared_ptr<std::vector<ExecuteResult>> out) {
        for (auto job : {make_job(AddTo{{sid("g")}, 2}), make_job(AddTo{{sid("g"), sid("h")}, 3})})
          self->request(gateway, caf::infinite, execute_atom::value, job).then([=](const ExecuteResult& r) {
            out->push_back(r);
          });
      },
      gateway(*sim.executor), results);
  sim.sched->run();
  REQUIRE(results->size() == 2);
  for (const auto& r : *results) CHECK(r.ok());
  CHECK(sim.total(sid("g")) == 5);
  CHECK(sim.total(sid("h")) == 3);
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
}

namespace {
// Throws from handle when told to; otherwise adds like AddTo.
struct Throwing {
  using Event = TestEvent;
  using State = Totals;
  static constexpr std::string_view command_type = "Throwing";
  std::vector<StreamId> targets;
  bool fail = true;
  std::vector<StreamId> streams() const { return targets; }
  Decision<Event> handle(const State&) const {
    if (fail) throw std::runtime_error("boom");
    std::vector<Emit<Event>> out;
    for (const auto& t : targets) out.push_back({t, Added{1}});
    return out;
  }
};
}  // namespace

TEST_CASE("a handle that throws fails its command with invalid_command, and the stream stays usable") {
  Simulation sim;
  for (auto streams : {std::vector<StreamId>{sid("x")}, std::vector<StreamId>{sid("x"), sid("y")}}) {
    INFO(streams.size() << " stream(s)");
    auto thrown = sim.run(Throwing{streams});
    REQUIRE_FALSE(thrown.ok());
    CHECK(thrown.error().code == CommandErrorCode::invalid_command);
    CHECK(thrown.error().message.find("boom") != std::string::npos);
    CHECK(thrown.error().attempts == 1);
    CHECK(sim.store->appends.empty());
  }
  REQUIRE(sim.run(Throwing{{sid("x")}, false}).ok());  // the same stream actor, still serving
  REQUIRE(sim.run(Throwing{{sid("x"), sid("y")}, false}).ok());
  CHECK(sim.total(sid("x")) == 2);
  CHECK(sim.executor->metrics()->commands("Throwing", "invalid_command") == 2);
}

namespace {
// Runs every ready actor except the store I/O actors, until none is left.
void run_all_but_io(Simulation& sim) {
  for (bool ran = true; ran;) {
    ran = false;
    for (std::size_t i = 0; i < sim.sched->jobs.size(); ++i) {
      auto* actor = dynamic_cast<caf::local_actor*>(sim.sched->jobs[i]);
      if (actor && std::strcmp(actor->name(), "eventcore.store_io") == 0) continue;
      std::rotate(sim.sched->jobs.begin(), sim.sched->jobs.begin() + static_cast<std::ptrdiff_t>(i),
                  sim.sched->jobs.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      sim.sched->run_once();
      ran = true;
      break;
    }
  }
}
}  // namespace

TEST_CASE("a fast-path append that gets no answer in time fails with timeout, and the late answer is ignored") {
  RuntimeConfig config = simulation_config();
  config.command_timeout = 500ms;
  Simulation sim(config);
  REQUIRE(sim.run(AddTo{{sid("late")}, 1}).ok());

  auto slow = sim.start(AddTo{{sid("late")}, 1});
  run_all_but_io(sim);  // decided; its append waits on the (stalled) I/O actor
  CHECK_FALSE(slow->has_value());
  sim.sched->advance_time(500ms);
  run_all_but_io(sim);
  REQUIRE(slow->has_value());
  REQUIRE_FALSE((*slow)->ok());
  CHECK((*slow)->error().code == CommandErrorCode::timeout);

  SECTION("the late answer finds no one waiting") {
    sim.sched->run();  // the I/O actor appends after all
    CHECK(sim.total(sid("late")) == 2);
    auto next = sim.run(AddTo{{sid("late")}, 1});  // the cache was dropped: it reloads and sees both
    REQUIRE(next.ok());
    CHECK(next->stream_versions.at(0).version.value == 3);
  }
  SECTION("the late answer arrives while the next command holds the stream, and is not taken for its answer") {
    // Without the match of an answer to its command, the next command was
    // answered with the late append's version and its own write was lost.
    auto next = sim.start(AddTo{{sid("late")}, 1});
    run_all_but_io(sim);  // it reloads the stream (the timeout dropped the cache)
    CHECK_FALSE(next->has_value());
    sim.sched->run();
    REQUIRE(next->has_value());
    REQUIRE((*next)->ok());
    CHECK((**next)->stream_versions.at(0).version.value == 3);
    CHECK(sim.total(sid("late")) == 3);
  }
}
