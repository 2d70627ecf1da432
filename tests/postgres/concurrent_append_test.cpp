#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "postgres_test_support.hpp"
#include "racing_appender.hpp"

using namespace eventcore;
using namespace eventcore::testing;

namespace {

std::vector<StreamId> race_streams() {
  return {stream("race-a"), stream("race-b"), stream("race-c")};
}

// Every stream holds versions 1..n with no gap or duplicate, and every
// acknowledged event is in the store exactly once (by stream and in read_all).
void check_streams_and_events(EventStore& store, const std::vector<StreamId>& streams,
                              const std::vector<EventId>& acknowledged) {
  std::map<EventId, int> seen;
  std::size_t total = 0;
  for (const auto& id : streams) {
    auto events = store.read_stream(id, StreamVersion{1}, 10'000);
    REQUIRE(events.ok());
    for (std::size_t i = 0; i < events->size(); ++i) {
      REQUIRE((*events)[i].version.value == i + 1);
      ++seen[(*events)[i].id];
    }
    CHECK(store.stream_version(id)->value == events->size());
    total += events->size();
  }
  CHECK(total == acknowledged.size());
  for (const auto& id : acknowledged) CHECK(seen[id] == 1);

  std::set<EventId> in_log;
  GlobalPosition after{};
  for (;;) {
    auto page = store.read_all(after, 100);
    REQUIRE(page.ok());
    if (page->events.empty()) break;
    for (const auto& e : page->events) CHECK(in_log.insert(e.id).second);
    after = page->next;
  }
  CHECK(in_log.size() == acknowledged.size());
}

}  // namespace

TEST_CASE("eight threads racing on the same streams with expected versions leave versions 1..n "
          "and every acknowledged event exactly once") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("race");
  auto config = store_config(schema);
  config.pool_size = 8;
  auto store = open_store(config);
  const auto streams = race_streams();

  constexpr int threads = 8, appends_per_thread = 25;
  std::vector<RaceOutcome> outcomes(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] { outcomes[t] = race_appends(*store, streams, appends_per_thread, 1000 + t); });
  for (auto& w : workers) w.join();

  std::vector<EventId> acknowledged;
  int conflicts = 0;
  for (const auto& outcome : outcomes) {
    INFO(outcome.error);
    REQUIRE(outcome.error.empty());
    acknowledged.insert(acknowledged.end(), outcome.acknowledged.begin(), outcome.acknowledged.end());
    conflicts += outcome.conflicts;
  }
  // Racing on three streams must actually race.
  CHECK(conflicts > 0);
  check_streams_and_events(*store, streams, acknowledged);
}

TEST_CASE("two processes racing on the same streams with expected versions leave versions 1..n "
          "and every acknowledged event exactly once") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("procs");  // fresh: both processes also migrate it at once
  constexpr int processes = 2, appends_per_process = 40;

  std::vector<FILE*> pipes;
  for (int p = 0; p < processes; ++p) {
    const std::string command = std::string("'") + EVENTCORE_RACE_HELPER + "' '" + test_database_url() +
                                "' " + schema.name() + " " + std::to_string(appends_per_process) + " " +
                                std::to_string(7000 + p);
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    pipes.push_back(pipe);
  }
  std::vector<EventId> acknowledged;
  for (FILE* pipe : pipes) {
    char line[256];
    std::string errors;
    while (std::fgets(line, sizeof line, pipe)) {
      std::string text(line);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      if (text.starts_with("ack ")) acknowledged.push_back(EventId::parse(text.substr(4)).value());
      else errors += text + "\n";
    }
    const int status = ::pclose(pipe);
    INFO(errors);
    REQUIRE(status == 0);
  }
  auto store = open_store(store_config(schema));
  CHECK(acknowledged.size() >= std::size_t{processes * appends_per_process});
  check_streams_and_events(*store, race_streams(), acknowledged);
}
