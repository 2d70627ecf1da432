#include <poll.h>
#include <unistd.h>

#include <chrono>

#include "postgres_test_support.hpp"

using namespace eventcore;
using namespace eventcore::testing;

namespace {
// Waits up to `timeout` for a notification on `channel`.
bool notified(RawConnection& listener, const std::string& channel, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    PQconsumeInput(listener.conn);
    while (PGnotify* n = PQnotifies(listener.conn)) {
      const bool match = channel == n->relname;
      PQfreemem(n);
      if (match) return true;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fd{PQsocket(listener.conn), POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(left.count()));
  }
}

std::string channel_name(const char* hint) {
  return std::string("ect_") + hint + "_" + std::to_string(::getpid());
}
}  // namespace

TEST_CASE("with NotifyMode::per_append every append notifies the channel when it commits") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("notify");
  auto config = store_config(schema);
  config.notify = NotifyMode::per_append;
  config.notify_channel = channel_name("on");
  auto store = open_store(config);
  RawConnection listener;
  listener.exec("LISTEN " + config.notify_channel);

  // One event to one stream, and several streams: the two append statements.
  REQUIRE(store->append(one_event(stream("n-1"), ExpectedVersion::no_stream())).ok());
  CHECK(notified(listener, config.notify_channel, std::chrono::seconds(5)));

  AppendRequest request;
  request.streams.push_back({stream("n-2"), ExpectedVersion::any(), {event(), event()}});
  request.streams.push_back({stream("n-1"), ExpectedVersion::exact(1), {event()}});
  REQUIRE(store->append(request).ok());
  CHECK(notified(listener, config.notify_channel, std::chrono::seconds(5)));

  // A failed append writes nothing and wakes no one.
  auto conflict = store->append(one_event(stream("n-1"), ExpectedVersion::no_stream()));
  REQUIRE(conflict.error().code == ErrorCode::conflict);
  CHECK_FALSE(notified(listener, config.notify_channel, std::chrono::milliseconds(300)));
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
