#pragma once

// The benchmark cases and the options they share.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eventcore/store/event.hpp"
#include "eventcore/store/event_store.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "eventcore/store/stream_id.hpp"

namespace eventcore::bench {

struct Options {
  std::string database_url;           // --database-url / EVENTCORE_DATABASE_URL
  double seconds = 5;                 // EVENTCORE_BENCH_SECONDS: each timed run
  int reps = 3;                       // runs per side; medians are reported
  int clients = 16;                   // threads for the batch, multi-stream and read cases
  std::size_t catchup_events = 1'000'000;  // EVENTCORE_BENCH_EVENTS
  std::size_t page_size = 1000;
  std::size_t load_batch = 1000;
  std::size_t payload_bytes = 64;
  std::size_t memory_max_events = 8'000'000;  // per in-memory run (bounds RAM)
  NotifyMode notify = NotifyMode::none;       // for the subject of the PostgreSQL cases
  int warmup_ops = 5;
};

struct Case {
  std::string name;
  std::string description;
  bool needs_postgres;
  std::function<void(const Options&)> run;
};

std::vector<Case> postgres_cases();
std::vector<Case> memory_cases();

// Loads a log with categories holding 1 event in 10 and 1 in 100 into
// `store` and emits "<family>_read_category_1in10" and "_1in100"
// (category_cases.cpp).
void run_category_cases(const Options& o, EventStore& store, const std::string& family);

// The event payload every case writes: `size` deterministic bytes.
Payload make_payload(std::size_t size);
EventToWrite make_event(const Payload& payload);
StreamId stream_id(const std::string& name);

inline constexpr const char* event_type = "BenchEvent";

}  // namespace eventcore::bench
