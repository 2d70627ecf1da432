// The stream actors' protocol, driven by hand-made coordinators.

#include "eventcore/actors/detail/actors.hpp"
#include "support/simulation.hpp"

using namespace eventcore;
using namespace eventcore::testing;
using namespace eventcore::detail;
using namespace std::chrono_literals;

namespace {

// A stand-in coordinator: on (hold, stream) acquires it through the
// registry and logs the grant; on (letgo) releases everything it holds.
caf::behavior holder(caf::event_based_actor* self, caf::actor registry, std::string name,
                     std::shared_ptr<std::vector<std::string>> log) {
  auto held = std::make_shared<std::vector<caf::actor>>();
  return {
      [=](hold_atom, const StreamId& stream) {
        self->request(registry, caf::infinite, acquire_atom::value, stream).then([=](StreamGrant& grant) {
          REQUIRE(grant.version);
          log->push_back(name + "@" + stream.str() + ":" + std::to_string(grant.version->value));
          held->push_back(grant.stream_actor);
        });
      },
      [=](let_go_atom) {
        for (auto& a : *held) self->send(a, release_atom::value, self->id(), false);
        held->clear();
      },
  };
}

// A stand-in coordinator that has taken `stream` and holds it until let go.
caf::actor holding(Simulation& sim, const std::string& name, const char* stream,
                   const std::shared_ptr<std::vector<std::string>>& log) {
  auto stand_in = sim.system->spawn(holder, stream_registry(*sim.executor), name, log);
  caf::anon_send(stand_in, hold_atom::value, sid(stream));
  sim.sched->run();
  return stand_in;
}

}  // namespace

TEST_CASE("a stream is held by one transaction at a time, and waiters are served FIFO") {
  Simulation sim;
  auto log = std::make_shared<std::vector<std::string>>();
  auto registry = stream_registry(*sim.executor);
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
  auto crashing = sim.system->spawn(holder, stream_registry(*sim.executor), "crashing", log);
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

TEST_CASE("a write coordinator that dies answers its commands as unfinished, and a new one takes its place") {
  Simulation sim;
  auto log = std::make_shared<std::vector<std::string>>();
  auto stuck = holding(sim, "stuck", "b", log);

  // Each coordinator gets one transfer (keyed: keyless ones run on a stream
  // actor); each holds "a" or waits for it, and one waits for "b" behind
  // the stand-in.
  const auto coordinators = write_coordinators(*sim.executor);
  REQUIRE(coordinators.size() >= 2);
  std::vector<Simulation::Slot> stranded;
  std::size_t keys = 0;
  for (std::size_t i = 0; i < coordinators.size(); ++i)
    stranded.push_back(sim.start(AddTo{{sid("a"), sid("b")}, 1}, path_options(true, keys)));
  sim.sched->run();
  for (const auto& slot : stranded) CHECK_FALSE(slot->has_value());

  for (const auto& coordinator : coordinators) caf::anon_send_exit(coordinator, caf::exit_reason::kill);
  sim.sched->run();
  for (const auto& slot : stranded) {
    REQUIRE(slot->has_value());
    REQUIRE_FALSE((*slot)->ok());
    CHECK((*slot)->error().code == CommandErrorCode::store_unavailable);
    CHECK((*slot)->error().reason == "coordinator_stopped");
    CHECK_THAT((*slot)->error().message, Catch::Contains("before it wrote anything"));
  }
  const auto replaced = write_coordinators(*sim.executor);
  REQUIRE(replaced.size() == coordinators.size());
  for (std::size_t i = 0; i < replaced.size(); ++i) CHECK(replaced[i] != coordinators[i]);

  // "a" was released when its holder died; "b" once the stand-in lets go.
  caf::anon_send(stuck, let_go_atom::value);
  sim.sched->run();
  CHECK(sim.run(AddTo{{sid("a"), sid("b")}, 1}).ok());
  CHECK(sim.total(sid("a")) == 1);
  CHECK(sim.total(sid("b")) == 1);
  caf::anon_send_exit(stuck, caf::exit_reason::user_shutdown);
}

TEST_CASE("a command still in the mailbox of a write coordinator that dies goes to another one and runs") {
  Simulation sim;
  // The kill is ahead of the command in the coordinator's mailbox: it dies
  // before taking the command, which is dropped with its mailbox.
  for (const auto& coordinator : write_coordinators(*sim.executor))
    caf::anon_send_exit(coordinator, caf::exit_reason::kill);
  ExecuteOptions keyed;  // keyless commands run on a stream actor
  keyed.idempotency_key = "queued";
  auto queued = sim.start(AddTo{{sid("a"), sid("b")}, 1}, keyed);
  sim.sched->run();
  REQUIRE(queued->has_value());
  INFO(((*queued)->ok() ? std::string("ok") : to_string((*queued)->error())));
  REQUIRE((*queued)->ok());
  CHECK(sim.total(sid("a")) == 1);
}

TEST_CASE("a stream keeps watching a coordinator while another of its commands still holds or waits there") {
  Simulation sim;
  auto log = std::make_shared<std::vector<std::string>>();
  auto stuck_b = holding(sim, "stuck_b", "b", log);
  auto stuck_x = holding(sim, "stuck_x", "x", log);
  const auto coordinators = write_coordinators(*sim.executor);

  // Round robin: the first and the last of these run on the same coordinator
  // (all keyed: keyless commands run on a stream actor).
  std::size_t keys = 0;
  auto first = sim.start(AddTo{{sid("a"), sid("b")}, 1}, path_options(true, keys));  // holds "a", waits for "b"
  for (std::size_t i = 1; i < coordinators.size(); ++i)
    sim.start(AddTo{{sid("f" + std::to_string(i))}, 1}, path_options(true, keys));
  auto second = sim.start(AddTo{{sid("a"), sid("x")}, 1}, path_options(true, keys));  // waits for "a"
  sim.sched->run();
  // The first commits and lets "a" go; the second takes it and waits for "x".
  caf::anon_send(stuck_b, let_go_atom::value);
  sim.sched->run();
  REQUIRE(first->has_value());
  REQUIRE((*first)->ok());
  CHECK_FALSE(second->has_value());

  for (const auto& coordinator : coordinators) caf::anon_send_exit(coordinator, caf::exit_reason::kill);
  sim.sched->run();
  REQUIRE(second->has_value());
  CHECK((*second)->error().reason == "coordinator_stopped");
  // "a" was let go when the coordinator holding it died.
  caf::anon_send(stuck_x, let_go_atom::value);
  sim.sched->run();
  CHECK(sim.run(AddTo{{sid("a"), sid("x")}, 1}).ok());
  CHECK(sim.total(sid("a")) == 2);
  caf::anon_send_exit(stuck_b, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(stuck_x, caf::exit_reason::user_shutdown);
}

TEST_CASE("a command that cannot get its streams in time fails with timeout and leaves nothing held") {
  RuntimeConfig config = simulation_config();
  config.command_timeout = 500ms;
  Simulation sim(config);
  auto log = std::make_shared<std::vector<std::string>>();
  auto stuck = holding(sim, "stuck", "b", log);

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

TEST_CASE("live stream actors are bounded, and passivated streams reload the right state") {
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

namespace {

// Counts every event its State folds, across commands.
std::size_t folded_events = 0;
struct CountingTotals : Totals {
  void apply(const StreamId& stream, const TestEvent& event) {
    ++folded_events;
    Totals::apply(stream, event);
  }
};
struct CountedAdd {
  using Event = TestEvent;
  using State = CountingTotals;
  static constexpr std::string_view command_type = "CountedAdd";
  std::vector<StreamId> targets;
  std::int64_t expected_total = 0;  // what the fold must see before this command (-1: anything)
  std::vector<StreamId> streams() const { return targets; }
  Decision<Event> handle(const State& state) const {
    std::int64_t sum = 0;
    for (const auto& t : targets) sum += state.total(t);
    if (expected_total >= 0 && sum != expected_total) return reject("folded " + std::to_string(sum) + ", expected " + std::to_string(expected_total));
    std::vector<Emit<Event>> out;
    for (const auto& t : targets) out.push_back({t, Added{1}});
    return out;
  }
};

}  // namespace

TEST_CASE("a stream actor that dies answers the commands queued on it (no wait for the timeout)") {
  const bool retry_transient = GENERATE(false, true);
  Simulation sim(simulation_config(), RetryPolicy::fixed(std::chrono::milliseconds(0), 5).retry_transient(retry_transient));
  auto granted = std::make_shared<caf::actor>();
  auto grab = sim.system->spawn(grabber, stream_registry(*sim.executor), granted);
  caf::anon_send(grab, hold_atom::value, sid("s"));
  sim.sched->run();
  REQUIRE(*granted);

  auto waiting = sim.start(AddTo{{sid("s")}, 1});
  sim.sched->run();
  CHECK_FALSE(waiting->has_value());  // queued behind the grabber, which never lets go

  caf::anon_send_exit(*granted, caf::exit_reason::kill);
  sim.sched->run();  // no timer fires: the answer comes from the dying actor
  REQUIRE(waiting->has_value());
  if (retry_transient) {
    // The acquire failed as unavailable; the retry went to a fresh actor.
    INFO(((*waiting)->ok() ? std::string("ok") : to_string((*waiting)->error())));
    REQUIRE((*waiting)->ok());
    CHECK((*waiting)->value().attempts >= 2);
    CHECK(sim.total(sid("s")) == 1);
  } else {
    REQUIRE_FALSE((*waiting)->ok());
    CHECK((*waiting)->error().code == CommandErrorCode::store_unavailable);  // the caller may resubmit
    REQUIRE(sim.run(AddTo{{sid("s")}, 1}).ok());  // the registry spawns a fresh actor
    CHECK(sim.total(sid("s")) == 1);
  }
  caf::anon_send_exit(grab, caf::exit_reason::user_shutdown);
}

TEST_CASE("a stream actor folds each committed event once, and refolds only after a foreign write") {
  Simulation sim;
  folded_events = 0;
  for (std::int64_t i = 0; i < 10; ++i) REQUIRE(sim.run(CountedAdd{{sid("c")}, i}).ok());
  CHECK(folded_events == 10);  // each event once, as it commits (not 1 + 2 + ... + 10 = 55)

  // A rejected command leaves the fold right (it folds committed events only).
  auto rejected = sim.run(CountedAdd{{sid("c")}, 99});
  REQUIRE_FALSE(rejected.ok());
  CHECK(rejected.error().code == CommandErrorCode::validation_failed);
  REQUIRE(sim.run(CountedAdd{{sid("c")}, 10}).ok());
  CHECK(folded_events == 11);

  // A foreign write (another process) makes the append conflict; the stream
  // reloads and the retry folds from scratch, seeing the foreign event.
  REQUIRE(sim.store->inner.append(AppendRequest{{StreamWrite{sid("c"), ExpectedVersion::exact(StreamVersion{11}), {added(5)}}}}).ok());
  folded_events = 0;
  auto after_foreign = sim.run(CountedAdd{{sid("c")}, -1});
  REQUIRE(after_foreign.ok());
  CHECK(after_foreign.value().attempts == 2);
  CHECK(folded_events == 12 + 1);  // all 12 after the reload, then its own event at commit
  REQUIRE(sim.run(CountedAdd{{sid("c")}, 17}).ok());  // 11 + 5 + 1: the reloaded fold is right
  CHECK(folded_events == 14);                          // and it is kept: one new event

  // A plain State over several streams folds them from scratch, in global order.
  folded_events = 0;
  // (and c's actor still advances the single-stream fold it keeps by the one
  // event committed to c).
  REQUIRE(sim.run(CountedAdd{{sid("c"), sid("d")}, 18}).ok());
  CHECK(folded_events == 14 + 1);
}

namespace {
// One stream's total, counting every event it folds.
std::size_t per_stream_folds = 0;
struct CountingTotal {
  std::int64_t total = 0;
  void apply(const TestEvent& event) {
    ++per_stream_folds;
    if (auto* a = std::get_if<Added>(&event)) total += a->amount;
  }
};
// Moves one unit from `from` to `to` unless `from` would go negative.
struct Move {
  using Event = TestEvent;
  using State = PerStream<CountingTotal>;
  static constexpr std::string_view command_type = "Move";
  StreamId from, to;
  std::vector<StreamId> streams() const { return {from, to}; }
  Decision<Event> handle(const State& state) const {
    if (state[from].total < 1) return reject("'" + from.str() + "' is empty");
    return {{from, Added{-1}}, {to, Added{1}}};
  }
};
}  // namespace

TEST_CASE("a multi-stream command reads each stream's cached state: no refold as the streams grow") {
  Simulation sim;
  REQUIRE(sim.run(AddTo{{sid("x")}, 1000}).ok());
  per_stream_folds = 0;
  for (int i = 0; i < 50; ++i) {
    auto moved = i % 2 ? sim.run(Move{sid("y"), sid("x")}) : sim.run(Move{sid("x"), sid("y")});
    REQUIRE(moved.ok());
  }
  // x: its 1 event folded on first use, then each move's event once; y the same.
  CHECK(per_stream_folds == 1 + 50 * 2);
  CHECK(sim.total(sid("x")) == 1000);
  CHECK(sim.total(sid("y")) == 0);

  // The state the command reads is the stream's own: y is empty again, so a move from it is rejected.
  auto empty = sim.run(Move{sid("y"), sid("x")});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == CommandErrorCode::validation_failed);
}

namespace {
// An event that counts how often it is decoded.
std::size_t tallied_decodes = 0;
struct Tallied {
  static constexpr std::string_view event_type = "Tallied";
  std::int64_t amount = 0;
  template <class Archive>
  void save(Archive& ar) const {
    ar(amount);
  }
  template <class Archive>
  void load(Archive& ar) {
    ++tallied_decodes;
    ar(amount);
  }
};
using TalliedEvent = std::variant<Tallied>;
struct Tally {
  std::int64_t total = 0;
  void apply(const TalliedEvent& event) { total += std::get<Tallied>(event).amount; }
};
// Adds `amount` to every stream it names, unless the first would go negative.
struct Spread {
  using Event = TalliedEvent;
  using State = PerStream<Tally>;
  std::vector<StreamId> targets;
  std::int64_t amount = 0;
  std::vector<StreamId> streams() const { return targets; }
  Decision<Event> handle(const State& state) const {
    if (state[targets.front()].total + amount < 0) return reject("would go negative");
    std::vector<Emit<Event>> out;
    for (const auto& s : targets) out.push_back({s, Tallied{amount}});
    return out;
  }
};
}  // namespace

TEST_CASE("folds advance by the events their command emitted, never decoding them") {
  Simulation sim;
  tallied_decodes = 0;
  for (int i = 0; i < 20; ++i) REQUIRE(sim.run(Spread{{sid("p")}, 1}).ok());             // the fast path
  for (int i = 0; i < 20; ++i) REQUIRE(sim.run(Spread{{sid("p"), sid("q")}, 1}).ok());  // a coordinator
  CHECK(tallied_decodes == 0);
  // The folds are right: a command that would take p below zero is rejected, one that does not is not.
  CHECK_FALSE(sim.run(Spread{{sid("p")}, -41}).ok());
  REQUIRE(sim.run(Spread{{sid("p"), sid("q")}, -40}).ok());
  CHECK_FALSE(sim.run(Spread{{sid("q"), sid("p")}, -1}).ok());  // q is at 20 - 40

  // A reload (after a foreign write) decodes what the store holds: the count sees decodes.
  auto foreign = EventCodec<TalliedEvent>::encode(Tallied{5});
  REQUIRE(sim.store->inner
              .append(AppendRequest{{StreamWrite{sid("p"), ExpectedVersion::exact(StreamVersion{41}), {foreign}}}})
              .ok());
  tallied_decodes = 0;
  REQUIRE(sim.run(Spread{{sid("p")}, -5}).ok());  // 0 + 5 - 5: only right if the reload saw the foreign event
  CHECK(tallied_decodes == 42);                    // p's 42 stored events, once each
  CHECK_FALSE(sim.run(Spread{{sid("p")}, -1}).ok());
}

namespace {
// A state that reads the stored events themselves: its fold decodes.
std::vector<StoredEvent> seen_events;
struct Seen {
  std::vector<StoredEvent> events;
  void apply(const StoredEvent& stored, const TalliedEvent&) { events.push_back(stored); }
};
struct SpreadSeen {
  using Event = TalliedEvent;
  using State = PerStream<Seen>;
  std::vector<StreamId> targets;
  std::vector<StreamId> streams() const { return targets; }
  Decision<Event> handle(const State& state) const {
    seen_events = state[targets.front()].events;
    std::vector<Emit<Event>> out;
    for (const auto& s : targets) out.push_back({s, Tallied{1}});
    return out;
  }
};
}  // namespace

TEST_CASE("a fold that reads the stored event gets each committed one as the store holds it") {
  Simulation sim;
  ExecuteOptions options;
  options.metadata.user_id = "ann";
  for (int i = 0; i < 3; ++i) REQUIRE(sim.run(SpreadSeen{{sid("m")}}, options).ok());            // the fast path
  for (int i = 0; i < 3; ++i) REQUIRE(sim.run(SpreadSeen{{sid("m"), sid("n")}}, options).ok());  // a coordinator
  REQUIRE(sim.run(SpreadSeen{{sid("m")}}).ok());  // folds what the others committed, from the cache
  auto page = sim.store->inner.read_stream(sid("m"), StreamVersion{0}, 100);
  REQUIRE(page.ok());
  REQUIRE(page->events.size() == 7);
  REQUIRE(seen_events.size() == 6);
  for (std::size_t i = 0; i < seen_events.size(); ++i) {
    const auto& seen = seen_events[i];
    const auto& stored = page->events[i];
    CHECK(seen.id == stored.id);
    CHECK(seen.stream == stored.stream);
    CHECK(seen.version == stored.version);
    CHECK(seen.position == stored.position);
    CHECK(seen.type == stored.type);
    CHECK(seen.payload == stored.payload);
    CHECK(seen.metadata == stored.metadata);
    CHECK(seen.metadata.user_id == std::optional<std::string>("ann"));
  }
}
