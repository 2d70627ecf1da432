// The stream actors' protocol, driven by hand-made coordinators.

#include "support/simulation.hpp"

using namespace eventcore;
using namespace eventcore::testing;
using namespace eventcore::detail;
using namespace std::chrono_literals;

namespace {

using hold_atom = caf::atom_constant<caf::atom("hold")>;
using let_go_atom = caf::atom_constant<caf::atom("letgo")>;

// A stand-in coordinator: on (hold, stream) acquires it through the
// registry and logs the grant; on (letgo) releases everything it holds.
caf::behavior holder(caf::event_based_actor* self, caf::actor registry, std::string name,
                     std::shared_ptr<std::vector<std::string>> log) {
  auto held = std::make_shared<std::vector<caf::actor>>();
  return {
      [=](hold_atom, const StreamId& stream) {
        self->request(registry, caf::infinite, acquire_atom::value, stream).then([=](StreamGrant& grant) {
          REQUIRE(grant.snapshot);
          log->push_back(name + "@" + grant.snapshot->stream.str() + ":" +
                         std::to_string(grant.snapshot->version.value));
          held->push_back(grant.stream_actor);
        });
      },
      [=](let_go_atom) {
        for (auto& a : *held) self->send(a, release_atom::value, self->id(), false);
        held->clear();
      },
  };
}

}  // namespace

TEST_CASE("a stream is held by one transaction at a time; waiters are served FIFO") {
  Simulation sim;
  auto log = std::make_shared<std::vector<std::string>>();
  auto registry = sim.executor->registry();
  auto h1 = sim.system->spawn(holder, registry, "h1", log);
  auto h2 = sim.system->spawn(holder, registry, "h2", log);
  auto h3 = sim.system->spawn(holder, registry, "h3", log);
  for (auto& h : {h1, h2, h3}) {
    caf::anon_send(h, hold_atom::value, sid("s"));
    sim.sched->run();  // makes the arrival order h1, h2, h3
  }
  CHECK(*log == std::vector<std::string>{"h1@s:0"});
  caf::anon_send(h1, let_go_atom::value);
  sim.sched->run();
  CHECK(*log == std::vector<std::string>{"h1@s:0", "h2@s:0"});
  caf::anon_send(h2, let_go_atom::value);
  sim.sched->run();
  CHECK(*log == std::vector<std::string>{"h1@s:0", "h2@s:0", "h3@s:0"});
  caf::anon_send(h3, let_go_atom::value);
  for (auto& h : {h1, h2, h3}) caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("a coordinator that dies while holding streams releases them") {
  Simulation sim;
  auto log = std::make_shared<std::vector<std::string>>();
  auto crashing = sim.system->spawn(holder, sim.executor->registry(), "crashing", log);
  caf::anon_send(crashing, hold_atom::value, sid("a"));
  sim.sched->run();
  caf::anon_send(crashing, hold_atom::value, sid("b"));
  sim.sched->run();
  REQUIRE(log->size() == 2);

  auto waiting = sim.start(AddTo{{sid("a"), sid("b")}, 1});
  sim.sched->run();
  CHECK_FALSE(waiting->has_value());  // queued behind the holder

  caf::anon_send_exit(crashing, caf::exit_reason::kill);
  sim.sched->run();
  REQUIRE(waiting->has_value());
  REQUIRE((*waiting)->ok());
  CHECK(sim.total(sid("a")) == 1);
}

TEST_CASE("a command that cannot get its streams in time fails with timeout and leaves nothing held") {
  RuntimeConfig config = simulation_config();
  config.command_timeout = 500ms;
  Simulation sim(config);
  auto log = std::make_shared<std::vector<std::string>>();
  auto stuck = sim.system->spawn(holder, sim.executor->registry(), "stuck", log);
  caf::anon_send(stuck, hold_atom::value, sid("b"));
  sim.sched->run();

  auto timed_out = sim.start(AddTo{{sid("a"), sid("b")}, 1});
  sim.sched->run();
  CHECK_FALSE(timed_out->has_value());
  sim.sched->advance_time(500ms);
  sim.sched->run();
  REQUIRE(timed_out->has_value());
  REQUIRE_FALSE((*timed_out)->ok());
  CHECK((*timed_out)->error().code == CommandErrorCode::timeout);

  // "a" was released by the timeout; "b" once its holder lets go.
  CHECK(sim.run(AddTo{{sid("a")}, 1}).ok());
  caf::anon_send(stuck, let_go_atom::value);
  sim.sched->run();
  CHECK(sim.run(AddTo{{sid("b")}, 1}).ok());
  CHECK(sim.store->appends.size() == 2);
  caf::anon_send_exit(stuck, caf::exit_reason::user_shutdown);
}

TEST_CASE("live stream actors are bounded; passivated streams reload the right state") {
  RuntimeConfig config = simulation_config();
  config.max_live_streams = 2;
  Simulation sim(config);
  for (int i = 0; i < 5; ++i) REQUIRE(sim.run(AddTo{{sid("p" + std::to_string(i))}, 10}).ok());
  CHECK(sim.live_stream_actors() <= 2);

  // p0 was passivated; meanwhile another process spends 4 from it.
  sim.store->foreign_append(sid("p0"), added(-4));
  const auto reads = sim.store->reads;
  CHECK_FALSE(sim.run(AddTo{{sid("p0")}, -7}).ok());  // 6 left: the reloaded state knows
  CHECK(sim.store->reads == reads + 1);
  auto ok = sim.run(AddTo{{sid("p0")}, -6});
  REQUIRE(ok.ok());
  CHECK(ok->attempts == 1);
  CHECK(ok->stream_versions.at(0).version.value == 3);
  CHECK(sim.total(sid("p0")) == 0);
}

TEST_CASE("idle stream actors are passivated after the sweep interval") {
  RuntimeConfig config = simulation_config();
  config.idle_sweep_interval = 1s;
  Simulation sim(config);
  REQUIRE(sim.run(AddTo{{sid("i1"), sid("i2")}, 1}).ok());
  CHECK(sim.live_stream_actors() == 2);
  sim.sched->advance_time(1s);
  sim.sched->run();
  CHECK(sim.live_stream_actors() == 2);  // idle for less than a full interval
  sim.sched->advance_time(1s);
  sim.sched->run();
  CHECK(sim.live_stream_actors() == 0);
  auto again = sim.run(AddTo{{sid("i1")}, 1});
  REQUIRE(again.ok());
  CHECK(again->stream_versions.at(0).version.value == 2);
}
