// The projection runtime on a MemoryStore: no database. What a user's unit
// test of a projection looks like (README), and the runtime's guarantees
// that hold on every store: wake-ups, waiting for a position, one instance.

#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/bank/commands.hpp"
#include "eventcore/bank/events.hpp"
#include "eventcore/projections/projection.hpp"
#include "eventcore/store/memory_store.hpp"

using namespace eventcore;
using namespace eventcore::projections;
using namespace std::chrono_literals;

namespace {

// Balances by account, from the bank's events.
class Balances final : public TypedProjection<bank::Event> {
 public:
  void apply_event(const bank::Event& event, const StoredEvent&) override {
    std::lock_guard lock(mutex_);
    if (const auto* d = std::get_if<bank::MoneyDeposited>(&event)) balances_[d->account] += d->cents;
    if (const auto* w = std::get_if<bank::MoneyWithdrawn>(&event)) balances_[w->account] -= w->cents;
  }
  std::int64_t balance(const std::string& account) const {
    std::lock_guard lock(mutex_);
    auto it = balances_.find(account);
    return it == balances_.end() ? 0 : it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::int64_t> balances_;
};

// Every event it was given, in order.
class Positions final : public Projection {
 public:
  void apply(const StoredEvent& event) override {
    std::lock_guard lock(mutex_);
    if (event.type == "Poison") throw std::runtime_error("cannot apply " + event.type);
    seen_.push_back(event.position);
  }
  std::vector<GlobalPosition> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<GlobalPosition> seen_;
};

bank::AccountId account(const std::string& id) { return bank::AccountId::try_new(id).value(); }
bank::Money money(std::int64_t cents) { return bank::Money::try_new(cents).value(); }

AppendRequest one_event(const std::string& stream, const std::string& type = "Happened") {
  AppendRequest request;
  request.streams.push_back(StreamWrite{StreamId::try_new(stream).value(), ExpectedVersion::any(),
                                        {EventToWrite{EventId::generate(), type, {1}, {}}}});
  return request;
}

struct World {
  std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>();
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  std::unique_ptr<ProjectionRuntime> runtime;

  explicit World(ProjectionRuntimeConfig config = slow_poll()) {
    auto started = ProjectionRuntime::start(system, store, config);
    if (!started) FAIL("start: " << to_string(started.error()));
    runtime = std::move(started).value();
  }
  ~World() { runtime->stop(); }
  // Only a wake-up from the store can deliver in time.
  static ProjectionRuntimeConfig slow_poll() {
    ProjectionRuntimeConfig c;
    c.poll_interval = 60s;
    c.standby_interval = 20ms;
    return c;
  }
};

}  // namespace

TEST_CASE("a projection on a MemoryStore follows commands through the executor, and waits for their position") {
  World w;
  REQUIRE(w.runtime->add({.name = "balances", .filter = {.stream_prefix = "account-"}},
                         [] { return std::make_unique<Balances>(); })
              .ok());
  auto executor = CommandExecutor::builder().with_store(w.store).build().value();
  REQUIRE(executor.execute_sync(bank::OpenAccount{account("ada"), "Ada"}).ok());
  REQUIRE(executor.execute_sync(bank::OpenAccount{account("bob"), "Bob"}).ok());
  REQUIRE(executor.execute_sync(bank::Deposit{account("ada"), money(500)}).ok());
  auto transfer = executor.execute_sync(bank::TransferMoney{account("ada"), account("bob"), money(120), ""});
  REQUIRE(transfer.ok());
  const GlobalPosition written = transfer.value().positions.back();

  REQUIRE(w.runtime->wait_until_caught_up("balances", written, 5s).ok());
  auto balances = std::dynamic_pointer_cast<Balances>(w.runtime->instance("balances"));
  CHECK(balances->balance("ada") == 380);
  CHECK(balances->balance("bob") == 120);
  auto status = w.runtime->status("balances");
  REQUIRE(status.ok());
  CHECK(status->state == ProjectionState::running);
  CHECK(status->position == written);
  CHECK(status->head == written);
  CHECK(status->lag_events == 0);
  CHECK(status->held_back_events == 0);
  executor.shutdown();
}

TEST_CASE("an in-memory projection's stored progress reaches the last event once the log goes quiet") {
  // Progress is saved at most once a second while events arrive; a quiet log
  // must not leave the last report behind (operators read it: eventcore projections).
  auto checkpoints = memory_checkpoint_store();
  ProjectionRuntimeConfig config;
  config.poll_interval = 50ms;
  config.checkpoints = checkpoints;
  World w(config);
  REQUIRE(w.runtime->add({.name = "positions"}, [] { return std::make_unique<Positions>(); }).ok());
  auto append = [&](const char* stream) {
    auto written = w.store->append(
        AppendRequest{{StreamWrite{StreamId::try_new(stream).value(), ExpectedVersion::any(),
                                   {EventToWrite{EventId::generate(), "Tick", {}, {}}}}}});
    REQUIRE(written.ok());
    REQUIRE(w.runtime->wait_until_caught_up("positions", written->positions.back(), 5s).ok());
    return written->positions.back();
  };
  append("clock-1");
  const GlobalPosition last = append("clock-2");  // within the second: its report is held back
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::optional<Checkpoint> saved;
  while (std::chrono::steady_clock::now() < deadline) {
    saved = checkpoints->load("positions").value();
    if (saved && saved->position == last) break;
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(saved.has_value());
  CHECK(saved->position == last);
}

TEST_CASE("wait_until_caught_up returns once nothing the projection wants lies before the position, even when "
          "the position's own event is filtered out") {
  World w;
  REQUIRE(w.runtime->add({.name = "orders", .filter = {.stream_prefix = "order-"}},
                         [] { return std::make_unique<Positions>(); })
              .ok());
  REQUIRE(w.store->append(one_event("order-1")).ok());
  const auto unwanted = w.store->append(one_event("account-1"));
  REQUIRE(unwanted.ok());
  REQUIRE(w.runtime->wait_until_caught_up("orders", unwanted->positions[0], 5s).ok());
  CHECK(std::dynamic_pointer_cast<Positions>(w.runtime->instance("orders"))->seen().size() == 1);
}

TEST_CASE("wait_until_caught_up times out with where the projection is, and fails at once for a stopped one") {
  World w;
  REQUIRE(w.runtime->add({.name = "picky", .errors = {.max_attempts = 1, .initial_backoff = 1ms}},
                         [] { return std::make_unique<Positions>(); })
              .ok());
  const auto poison = w.store->append(one_event("s-1", "Poison"));
  REQUIRE(poison.ok());
  auto stopped = w.runtime->wait_until_caught_up("picky", poison->positions[0], 5s);
  REQUIRE_FALSE(stopped.ok());
  CHECK(stopped.error().code == ErrorCode::failed);
  CHECK(stopped.error().message.find("Poison") != std::string::npos);

  const GlobalPosition never{poison->positions[0].transaction + 100, poison->positions[0].sequence + 100};
  REQUIRE(w.runtime->add({.name = "idle"}, [] { return std::make_unique<Positions>(); }).ok());
  auto late = w.runtime->wait_until_caught_up("idle", never, 100ms);
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().code == ErrorCode::timeout);
  CHECK(late.error().message.find("idle") != std::string::npos);
  CHECK(w.runtime->wait_until_caught_up("unknown", never, 10ms).error().code == ErrorCode::invalid_argument);
}

TEST_CASE("on a MemoryStore a projection wakes on each append, not on the poll") {
  World w;  // poll every 60 s
  REQUIRE(w.runtime->add({.name = "all"}, [] { return std::make_unique<Positions>(); }).ok());
  auto model = std::dynamic_pointer_cast<Positions>(w.runtime->instance("all"));
  for (int round = 0; round < 3; ++round) {
    const auto appended = w.store->append(one_event("s-1"));
    REQUIRE(appended.ok());
    REQUIRE(w.runtime->wait_until_caught_up("all", appended->positions[0], 5s).ok());
    CHECK(model->seen().size() == static_cast<std::size_t>(round + 1));
  }
}

TEST_CASE("a PostgresProjection on a store that is not PostgreSQL is refused with a clear error") {
  class Table final : public PostgresProjection {
    std::vector<std::string> tables() const override { return {"t"}; }
    void create(Sql&) override {}
    void apply(Sql&, const StoredEvent&) override {}
  };
  World w;
  auto added = w.runtime->add(ProjectionOptions{.name = "table"},
                              ProjectionRuntime::PostgresProjectionFactory([] { return std::make_unique<Table>(); }));
  REQUIRE_FALSE(added.ok());
  CHECK(added.error().code == ErrorCode::invalid_argument);
  CHECK(added.error().message.find("PostgresStore") != std::string::npos);
}

TEST_CASE("a one-instance projection runs in one runtime of those sharing a Leadership, and another takes over when "
          "it stops") {
  auto leadership = memory_leadership();
  auto store = std::make_shared<MemoryStore>();
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  auto config = World::slow_poll();
  config.leadership = leadership;
  auto first = ProjectionRuntime::start(system, store, config).value();
  auto second = ProjectionRuntime::start(system, store, config).value();
  const ProjectionOptions options{.name = "mailer", .one_instance = true};
  REQUIRE(first->add(options, [] { return std::make_unique<Positions>(); }).ok());
  const auto appended = store->append(one_event("s-1"));
  REQUIRE(appended.ok());
  REQUIRE(first->wait_until_caught_up("mailer", appended->positions[0], 5s).ok());
  REQUIRE(second->add(options, [] { return std::make_unique<Positions>(); }).ok());
  // The second waits as a standby, whatever is appended.
  const auto more = store->append(one_event("s-1"));
  REQUIRE(more.ok());
  REQUIRE(first->wait_until_caught_up("mailer", more->positions[0], 5s).ok());
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (second->status("mailer")->state == ProjectionState::starting && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);  // until its first step
  CHECK(second->status("mailer")->state == ProjectionState::standby);
  CHECK(std::dynamic_pointer_cast<Positions>(second->instance("mailer"))->seen().empty());
  first->stop();
  REQUIRE(second->wait_until_caught_up("mailer", more->positions[0], 5s).ok());
  CHECK(std::dynamic_pointer_cast<Positions>(second->instance("mailer"))->seen().size() == 2);
  second->stop();
}
