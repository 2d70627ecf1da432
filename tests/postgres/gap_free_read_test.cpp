#include <chrono>
#include <set>
#include <thread>

#include "postgres_test_support.hpp"

using namespace eventcore;
using namespace eventcore::testing;

TEST_CASE("read_all does not pass an append that is still in progress, and sees it with every "
          "later append once it commits") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("gapfree");
  auto config = store_config(schema);
  config.notify = NotifyMode::none;
  auto store = open_store(config);

  // The slow append, held open: it draws its transaction id and position
  // before the others.
  RawConnection slow(schema.name());
  REQUIRE(!begin_open_append(slow, "slow", "01890000-0000-7000-8000-000000000001").empty());

  std::set<EventId> expected{EventId::parse("01890000-0000-7000-8000-000000000001").value()};
  for (int i = 0; i < 5; ++i) {
    auto request = one_event(stream("fast-" + std::to_string(i)), ExpectedVersion::any());
    expected.insert(request.streams[0].events[0].id);
    REQUIRE(store->append(request).ok());
  }

  // A reader following the log: nothing is final while the slow append is open.
  LogFollower reader{*store};
  CHECK(reader.follow() == 0);
  CHECK(reader.cursor == GlobalPosition{});

  slow.exec("COMMIT");
  // Other sessions on the server may hold the snapshot horizon back a moment.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (reader.seen.size() < expected.size() && std::chrono::steady_clock::now() < deadline) {
    if (reader.follow() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(reader.seen == expected);
}
