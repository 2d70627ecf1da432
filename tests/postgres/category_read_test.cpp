// How PostgreSQL serves a category read (read_all with a stream prefix that
// holds a '-'): through the category index, reading about as many entries as
// the page returns. Not a walk of the log in global order (a generic plan
// that does not know the category), and not every entry of the category's
// rest (a bitmap scan, which collects them all and sorts): both return the
// same events, so only the server's own counters of index reads tell.

#include <chrono>
#include <string>
#include <thread>

#include "postgres_test_support.hpp"

using namespace eventcore;
using namespace eventcore::testing;
using namespace std::chrono_literals;

TEST_CASE("a category page reads about its own size from the category index: no walk of the log, no scan of "
          "the category's rest") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("category_plan");
  auto config = store_config(schema);
  config.pool_size = 1;  // one server session: its counters arrive together
  auto store = open_store(config);

  // 100,000 events: each append writes 990 to "other-<n>" and 10 to
  // "hundred-<n>", so that category holds 1 event in 100 of the log. The
  // planner, which takes the category and the prefix for independent
  // conditions, expects about 10 of its rows, and would rather collect them
  // all (a bitmap scan) than read them in order.
  constexpr int appends = 100, page = 100;
  for (int n = 0; n < appends; ++n) {
    AppendRequest request;
    for (auto [category, count] : {std::pair{"other-", 990}, {"hundred-", 10}}) {
      StreamWrite write{stream(category + std::to_string(n)), ExpectedVersion::no_stream(), {}};
      for (int i = 0; i < count; ++i) write.events.push_back(event("Happened", {1, 2}));
      request.streams.push_back(std::move(write));
    }
    REQUIRE(store->append(request).ok());
  }
  exec_sql("ANALYZE " + schema.name() + ".events");

  RawConnection raw;
  auto index_reads = [&](const std::string& index) {
    return std::stoll(raw.exec("SELECT idx_tup_read FROM pg_stat_user_indexes WHERE schemaname = '" +
                               schema.name() + "' AND indexrelname = '" + index + "'"));
  };
  const auto category_before = index_reads("events_category");
  const auto log_before = index_reads("events_tx_id_position");
  // A session reports its counters when it goes idle, unless it reported
  // less than a second ago: then only ten seconds later. The loading
  // appends just reported; a second's pause lets the read's come at once.
  std::this_thread::sleep_for(1100ms);

  auto read = store->read_all(GlobalPosition{}, page, EventFilter{{}, "hundred-"});
  REQUIRE(read.ok());
  REQUIRE(read->events.size() == page);
  for (const auto& e : read->events) CHECK(e.stream.str().starts_with("hundred-"));

  long long category = 0, log = 0;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    category = index_reads("events_category") - category_before;
    log = index_reads("events_tx_id_position") - log_before;
    if (category + log >= page) break;
    std::this_thread::sleep_for(50ms);  // the counters have no notification to wait on
  }
  INFO("index entries read: events_category " << category << ", events_tx_id_position " << log);
  REQUIRE(category + log >= page);  // the read's counters arrived
  CHECK(category <= 2 * page);      // the page, not the category's 1,000
  CHECK(log < page);                // not a walk of the log (100 entries per event returned)
}
