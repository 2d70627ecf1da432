#include <chrono>
#include <cstdlib>
#include <thread>

#include "postgres_test_support.hpp"

using namespace eventcore;
using namespace eventcore::testing;

// Stops and restarts the server under test: its own executable, run serially.
TEST_CASE("while the database is stopped appends fail fast with unavailable, and the same store "
          "works again after a restart") {
  EVENTCORE_REQUIRE_POSTGRES();
  if (!can_control_server()) {
    const char* skip = std::getenv("EVENTCORE_SKIP_POSTGRES_TESTS");
    if (skip && std::string(skip) == "1")
      skip_test("needs a server it may restart (EVENTCORE_TEST_PGDATA, EVENTCORE_TEST_PGPORT)");
    FAIL("this test stops and restarts PostgreSQL: set EVENTCORE_TEST_PGDATA and "
         "EVENTCORE_TEST_PGPORT (scripts/test.sh does), or EVENTCORE_SKIP_POSTGRES_TESTS=1");
  }
  ScopedSchema schema("restart");
  auto config = store_config(schema);
  config.connect_timeout = std::chrono::seconds{2};
  auto store = open_store(config);
  const auto id = stream("survivor");
  REQUIRE(store->append(one_event(id, ExpectedVersion::no_stream())).ok());

  stop_server();
  struct Restart {  // the server comes back even when a check below fails
    ~Restart() { start_server(); }
  } restart;

  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto start = std::chrono::steady_clock::now();
    auto result = store->append(one_event(id, ExpectedVersion::exact(1)));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(result.ok());
    INFO(result.error().message);
    CHECK(result.error().code == ErrorCode::unavailable);
    CHECK(elapsed < std::chrono::seconds(5));
  }
  auto read = store->read_all({}, 10);
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().code == ErrorCode::unavailable);

  start_server();
  auto appended = store->append(one_event(id, ExpectedVersion::exact(1)));
  INFO((appended ? std::string() : to_string(appended.error())));
  REQUIRE(appended.ok());
  CHECK(appended->streams[0].version.value == 2);
  CHECK(store->stream_version(id)->value == 2);
}

TEST_CASE("the coalesced notifier survives a restart: appends after it are notified again") {
  EVENTCORE_REQUIRE_POSTGRES();
  if (!can_control_server())
    skip_test("restarts the server: needs EVENTCORE_TEST_PGDATA and EVENTCORE_TEST_PGPORT");
  ScopedSchema schema("restart_notify");
  auto config = store_config(schema);
  config.notify_channel = "ect_restart_notify";
  auto store = open_store(config);
  REQUIRE(config.notify == NotifyMode::coalesced);
  {
    RawConnection listener;
    listener.exec("LISTEN " + config.notify_channel);
    REQUIRE(store->append(one_event(stream("n"), ExpectedVersion::any())).ok());
    REQUIRE(notified(listener, config.notify_channel, std::chrono::seconds(5)));
  }
  // The notifier counts a notification once its pg_notify returns, which can
  // be after the listener already received it: wait for the count, bounded.
  auto wait_for_count = [&](std::uint64_t count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (store->notifications_sent() < count && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  wait_for_count(1);
  const auto sent_before = store->notifications_sent();
  REQUIRE(sent_before == 1);
  {
    stop_server();
    struct Restart {
      ~Restart() { start_server(); }
    } restart;
    // The notifier's connection is gone; appends fail fast and never wait for it.
    const auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(store->append(one_event(stream("n"), ExpectedVersion::any())).ok());
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  }
  RawConnection listener;
  listener.exec("LISTEN " + config.notify_channel);
  REQUIRE(store->append(one_event(stream("n"), ExpectedVersion::any())).ok());
  CHECK(notified(listener, config.notify_channel, std::chrono::seconds(5)));
  wait_for_count(sent_before + 1);
  CHECK(store->notifications_sent() == sent_before + 1);
}
