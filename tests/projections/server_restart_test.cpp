// Stops and restarts the PostgreSQL server under running writers and
// projections: its own executable, run serially (it disturbs everything else).

#include "projection_test_support.hpp"

using namespace eventcore;
using namespace eventcore::testing;
using namespace eventcore::projections;

TEST_CASE("projections resume after a PostgreSQL restart and end equal to the fold of the log, no event missed or doubled") {
  EVENTCORE_REQUIRE_POSTGRES();
  if (!can_control_server())
    skip_test("restarts the server: needs EVENTCORE_TEST_PGDATA and EVENTCORE_TEST_PGPORT");
  Fixture f("proj_restart", PostgresStoreConfig{}.notify, PostgresStoreConfig{}.notify_interval, 500ms);
  auto rc = f.runtime_config();
  rc.poll_interval = 500ms;
  f.start(rc);
  ProjectionOptions copy;
  copy.name = "copy";
  copy.page_size = 200;
  ProjectionOptions log = copy;
  log.name = "log";
  REQUIRE(f.runtime->add(copy, [] { return std::make_unique<EventCopy>(); }).ok());
  REQUIRE(f.runtime->add(log, [] { return std::make_unique<EventLog>(); }).ok());
  REQUIRE(wait_until([&] { return f.status("copy").state == ProjectionState::running; }, 5s));
  {
    Writers writers(f.store, 3, 1ms);
    std::this_thread::sleep_for(700ms);
    stop_server();
    std::this_thread::sleep_for(1s);
    start_server();
    std::this_thread::sleep_for(1500ms);
    writers.stop();
    INFO("appends acknowledged: " << writers.written() << ", failed: " << writers.failed());
    CHECK(writers.failed() > 0);  // the outage was real
  }
  REQUIRE(wait_until([&] { return check_copy(f).exact(); }, 20s));
  const auto c = check_copy(f);
  CHECK(c.copied == c.log);
  CHECK(c.distinct == c.log);
  // The in-memory projection: every event once, in log order.
  std::vector<EventId> whole;
  GlobalPosition at;
  for (;;) {
    auto page = f.store->read_all(at, 5000);
    REQUIRE(page.ok());
    if (page->events.empty()) break;
    for (const auto& e : page->events) whole.push_back(e.id);
    at = page->next;
  }
  auto model = std::dynamic_pointer_cast<EventLog>(f.runtime->instance("log"));
  REQUIRE(wait_until([&] { return model->size() >= whole.size(); }, 20s));
  CHECK(model->ids() == whole);
  CHECK(f.status("copy").state == ProjectionState::running);
}
