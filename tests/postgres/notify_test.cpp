#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "postgres_test_support.hpp"

using namespace eventcore;
using namespace eventcore::testing;

namespace {
std::string channel_name(const char* hint) {
  return std::string("ect_") + hint + "_" + std::to_string(::getpid());
}

std::int64_t count_events(RawConnection& conn, const ScopedSchema& schema) {
  return std::stoll(conn.exec("SELECT count(*) FROM " + schema.name() + ".events"));
}
}  // namespace

TEST_CASE("NotifyMode::coalesced is the default, with a 1 ms interval") {
  const PostgresStoreConfig config;
  CHECK(config.notify == NotifyMode::coalesced);
  CHECK(config.notify_interval == std::chrono::milliseconds(1));
}

TEST_CASE("with NotifyMode::coalesced every successful append is followed by a notification sent after its commit") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("notify_coalesced");
  auto config = store_config(schema);
  config.notify_channel = channel_name("co");
  auto store = open_store(config);
  REQUIRE(store->config().notify == NotifyMode::coalesced);
  RawConnection listener;
  listener.exec("LISTEN " + config.notify_channel);

  // Appends one at a time: each is followed by its own notification, and the
  // listener woken by it sees the events (the send came after the commit).
  REQUIRE(store->append(one_event(stream("c-1"), ExpectedVersion::no_stream())).ok());
  REQUIRE(notified(listener, config.notify_channel, std::chrono::seconds(5)));
  CHECK(count_events(listener, schema) == 1);

  AppendRequest request;
  request.streams.push_back({stream("c-2"), ExpectedVersion::any(), {event(), event()}});
  request.streams.push_back({stream("c-1"), ExpectedVersion::exact(1), {event()}});
  REQUIRE(store->append(request).ok());
  REQUIRE(notified(listener, config.notify_channel, std::chrono::seconds(5)));
  CHECK(count_events(listener, schema) == 4);

  // A batch with one failing request still wrote the other: a notification.
  auto results = store->append_batch({one_event(stream("c-3"), ExpectedVersion::no_stream()),
                                      one_event(stream("c-1"), ExpectedVersion::no_stream())});
  REQUIRE(results.size() == 2);
  INFO((results[0].ok() ? std::string() : results[0].error().message));
  REQUIRE(results[0].ok());
  REQUIRE_FALSE(results[1].ok());
  REQUIRE(notified(listener, config.notify_channel, std::chrono::seconds(5)));
  CHECK(count_events(listener, schema) == 5);

  // A failed append (or batch) writes nothing and wakes no one.
  auto conflict = store->append(one_event(stream("c-1"), ExpectedVersion::no_stream()));
  REQUIRE(conflict.error().code == ErrorCode::conflict);
  auto failed = store->append_batch({one_event(stream("c-1"), ExpectedVersion::no_stream()),
                                     one_event(stream("c-2"), ExpectedVersion::no_stream())});
  REQUIRE_FALSE(failed[0].ok());
  REQUIRE_FALSE(failed[1].ok());
  CHECK_FALSE(notified(listener, config.notify_channel, std::chrono::milliseconds(300)));
  CHECK(store->notifications_sent() == 3);
}

TEST_CASE("with NotifyMode::coalesced concurrent appends send far fewer notifications than appends, "
          "the last one after the last commit") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("notify_merge");
  auto config = store_config(schema);
  config.notify_channel = channel_name("merge");
  config.notify_interval = std::chrono::milliseconds(2);
  auto store = open_store(config);

  // A listener thread counts notifications and, on each, the events it can
  // see (plain libpq: no test assertions off the main thread).
  RawConnection listener;
  listener.exec("LISTEN " + config.notify_channel);
  const std::string count_sql = "SELECT count(*) FROM " + schema.name() + ".events";
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> received{0}, seen{-1};
  std::thread listening([&] {
    while (!stop) {
      pollfd fd{PQsocket(listener.conn), POLLIN, 0};
      ::poll(&fd, 1, 50);
      PQconsumeInput(listener.conn);
      bool woken = false;
      while (PGnotify* n = PQnotifies(listener.conn)) {
        woken = woken || config.notify_channel == n->relname;
        PQfreemem(n);
        ++received;
      }
      if (!woken) continue;
      PGresult* r = PQexec(listener.conn, count_sql.c_str());
      if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) seen = std::stoll(PQgetvalue(r, 0, 0));
      PQclear(r);
    }
  });

  std::atomic<bool> writing{true};
  std::atomic<std::int64_t> written{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; writing; ++i)
        if (store->append(one_event(stream("m-" + std::to_string(t) + "-" + std::to_string(i % 20)),
                                    ExpectedVersion::any())))
          ++written;
    });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  writing = false;
  for (auto& w : writers) w.join();

  // The trailing send: a listener ends up woken after the last commit.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (seen.load() != written.load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  listening.join();
  INFO("appends " << written << ", notifications sent " << store->notifications_sent() << ", received "
                  << received);
  CHECK(seen == written);
  CHECK(written > 0);
  CHECK(store->notifications_sent() < static_cast<std::uint64_t>(written.load()));
  CHECK(store->notifications_sent() <= 700);  // at most one per 2 ms over ~1.2 s, with slack
  CHECK(received == static_cast<std::int64_t>(store->notifications_sent()));
}

TEST_CASE("a negative notify_interval is rejected") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("notify_bad");
  auto config = store_config(schema);
  config.notify_interval = std::chrono::microseconds(-1);
  auto store = PostgresStore::open(config);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ErrorCode::invalid_argument);
}

TEST_CASE("with NotifyMode::per_append every append notifies the channel when it commits") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("notify");
  auto config = store_config(schema);
  config.notify = NotifyMode::per_append;
  config.notify_channel = channel_name("on");
  auto store = open_store(config);
  RawConnection listener;
  listener.exec("LISTEN " + config.notify_channel);

  // One event to one stream, several to one stream, and several streams:
  // each shape of append statement.
  REQUIRE(store->append(one_event(stream("n-1"), ExpectedVersion::no_stream())).ok());
  CHECK(notified(listener, config.notify_channel, std::chrono::seconds(5)));

  AppendRequest one_stream;
  one_stream.streams.push_back({stream("n-3"), ExpectedVersion::any(), {event(), event(), event()}});
  REQUIRE(store->append(one_stream).ok());
  CHECK(notified(listener, config.notify_channel, std::chrono::seconds(5)));

  AppendRequest request;
  request.streams.push_back({stream("n-2"), ExpectedVersion::any(), {event(), event()}});
  request.streams.push_back({stream("n-1"), ExpectedVersion::exact(1), {event()}});
  REQUIRE(store->append(request).ok());
  CHECK(notified(listener, config.notify_channel, std::chrono::seconds(5)));

  // Streams at versions the store knows: the values form.
  AppendRequest known;
  known.streams.push_back({stream("n-2"), ExpectedVersion::exact(2), {event()}});
  known.streams.push_back({stream("n-1"), ExpectedVersion::exact(2), {event()}});
  auto known_result = store->append(known);
  REQUIRE(known_result.ok());
  CHECK(known_result->streams[1].version.value == 3);
  CHECK(notified(listener, config.notify_channel, std::chrono::seconds(5)));

  // One stream at a version the store knows, which takes no lock: one
  // event, and several (the values form with no stream ids).
  REQUIRE(store->append(one_event(stream("n-3"), ExpectedVersion::exact(3))).ok());
  CHECK(notified(listener, config.notify_channel, std::chrono::seconds(5)));
  AppendRequest known_one;
  known_one.streams.push_back({stream("n-3"), ExpectedVersion::exact(4), {event(), event()}});
  auto known_one_result = store->append(known_one);
  REQUIRE(known_one_result.ok());
  CHECK(known_one_result->streams[0].version.value == 6);
  CHECK(notified(listener, config.notify_channel, std::chrono::seconds(5)));

  // A failed append writes nothing and wakes no one.
  auto conflict = store->append(one_event(stream("n-1"), ExpectedVersion::no_stream()));
  REQUIRE(conflict.error().code == ErrorCode::conflict);
  CHECK_FALSE(notified(listener, config.notify_channel, std::chrono::milliseconds(300)));
  CHECK(store->notifications_sent() == 0);  // sent by the appends, not by a notifier
}

TEST_CASE("with NotifyMode::none appends send no notification") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("notify_none");
  auto config = store_config(schema);
  config.notify = NotifyMode::none;
  config.notify_channel = channel_name("off");
  auto store = open_store(config);
  RawConnection listener;
  listener.exec("LISTEN " + config.notify_channel);

  REQUIRE(store->append(one_event(stream("quiet"), ExpectedVersion::any())).ok());
  AppendRequest request;
  request.streams.push_back({stream("quiet-2"), ExpectedVersion::any(), {event(), event()}});
  REQUIRE(store->append(request).ok());
  CHECK_FALSE(notified(listener, config.notify_channel, std::chrono::milliseconds(500)));
}
