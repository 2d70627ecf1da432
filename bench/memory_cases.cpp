// In-memory cases: MemoryStore appends against the irreducible cost of the
// same work, copying the same pre-built events into a std::vector under a
// std::mutex. One thread; requests are built outside the timed region, in
// chunks, so that RAM stays bounded.

#include <iostream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "cases.hpp"
#include "eventcore/store/memory_store.hpp"
#include "harness.hpp"
#include "report.hpp"

namespace eventcore::bench {

namespace {

constexpr std::size_t chunk_events = 200'000;

struct StoreSink {
  MemoryStore store;
  std::uint64_t errors = 0;
  std::string first_error;
  void append(const AppendRequest& request) {
    auto result = store.append(request);
    if (!result) {
      if (errors++ == 0) first_error = to_string(result.error());
    }
  }
};

struct VectorSink {
  std::mutex mutex;
  std::vector<EventToWrite> events;
  std::uint64_t errors = 0;
  std::string first_error;
  void append(const AppendRequest& request) {
    std::lock_guard lock(mutex);
    for (const auto& write : request.streams)
      for (const auto& event : write.events) events.push_back(event);
  }
};

// `writers` threads append at once, each to a stream of its own; the
// requests are built before the timed section. Chunks bound the RAM held by
// requests not yet written.
template <class Sink>
RunStats run_memory(const Options& o, std::size_t batch, std::size_t writers = 1) {
  const Payload payload = make_payload(o.payload_bytes);
  const auto window = std::chrono::duration<double>(o.seconds);
  auto sink = std::make_unique<Sink>();
  RunStats stats;
  Clock::duration elapsed{};
  double cpu = 0;
  std::vector<std::uint64_t> versions(writers, 0);
  std::vector<std::vector<AppendRequest>> requests(writers);
  while (elapsed < window && stats.units < o.memory_max_events) {
    const std::size_t count =
        std::max<std::size_t>(1, std::min(chunk_events, o.memory_max_events - stats.units) / batch / writers);
    for (std::size_t w = 0; w < writers; ++w) {
      const StreamId stream = stream_id("mem-" + std::to_string(w));
      requests[w].clear();
      requests[w].reserve(count);
      for (std::size_t i = 0; i < count; ++i) {
        StreamWrite write{stream, ExpectedVersion::exact(versions[w]), {}};
        write.events.reserve(batch);
        for (std::size_t e = 0; e < batch; ++e) write.events.push_back(make_event(payload));
        versions[w] += batch;
        AppendRequest request;
        request.streams.push_back(std::move(write));
        requests[w].push_back(std::move(request));
      }
    }
    const double cpu0 = process_cpu_seconds();
    const auto t0 = Clock::now();
    if (writers == 1) {
      for (const auto& request : requests[0]) sink->append(request);
    } else {
      std::vector<std::thread> threads;
      for (std::size_t w = 0; w < writers; ++w)
        threads.emplace_back([&, w] {
          for (const auto& request : requests[w]) sink->append(request);
        });
      for (auto& t : threads) t.join();
    }
    elapsed += Clock::now() - t0;
    cpu += process_cpu_seconds() - cpu0;
    stats.ops += count * writers;
    stats.units += count * batch * writers;
  }
  stats.seconds = std::chrono::duration<double>(elapsed).count();
  stats.cpu_seconds = cpu;
  stats.errors = sink->errors;
  stats.first_error = sink->first_error;
  if (stats.errors > 0) stats.ops = stats.units = 0;
  requests.clear();
  sink.reset();  // frees the events outside the timed region
  return stats;
}

// The JSON line of an in-memory append case.
void emit_memory_case(const Options& o, const Comparison& c, CaseReport r, std::size_t batch) {
  r.extra["events_per_append"] = batch;
  r.extra["payload_bytes"] = o.payload_bytes;
  r.extra["max_events_per_run"] = o.memory_max_events;
  emit(r, c);
}

void run_memory_case(const Options& o, const std::string& name, std::size_t batch, std::optional<double> target) {
  Side baseline{"vector+mutex", [&] { return run_memory<VectorSink>(o, batch); }};
  Side subject{"MemoryStore", [&] { return run_memory<StoreSink>(o, batch); }};
  const bool per_event = batch > 1;
  const std::string unit = per_event ? "events/s" : "tx/s";
  auto c = alternate(name, o.reps, baseline, subject, per_event, unit);
  CaseReport r{name, "append_throughput", unit, 1, "vector_under_mutex", per_event};
  r.target_value = target;
  emit_memory_case(o, c, std::move(r), batch);
}

// Two threads appending to one MemoryStore against one thread: what the
// command runtime's scheduler threads meet when each appends in place. The
// store is one ordered log under one lock, so the ratio is at most 1; how
// far below says what sharing its data between cores costs.
void run_two_writers_case(const Options& o) {
  const std::string name = "mem_append_2writers";
  Side baseline{"1 writer", [&] { return run_memory<StoreSink>(o, 1, 1); }};
  Side subject{"2 writers", [&] { return run_memory<StoreSink>(o, 1, 2); }};
  auto c = alternate(name, o.reps, baseline, subject, false, "tx/s");
  emit_memory_case(o, c, {name, "append_throughput", "tx/s", 2, "memory_store_one_writer"}, 1);
}

}  // namespace

std::vector<Case> memory_cases() {
  return {
      {"mem_append_single", "MemoryStore, one event per append", false,
       [](const Options& o) { run_memory_case(o, "mem_append_single", 1, std::nullopt); }},
      {"mem_append_batch100", "MemoryStore, 100 events per append", false,
       [](const Options& o) { run_memory_case(o, "mem_append_batch100", 100, 2'000'000.0); }},
      {"mem_append_2writers", "MemoryStore, one event per append from two threads vs one thread", false,
       [](const Options& o) { run_two_writers_case(o); }},
      {"mem_read_category", "MemoryStore, read_all by a prefix holding 1 in 10 / 1 in 100 events vs unfiltered",
       false,
       [](const Options& o) {
         MemoryStore store;
         run_category_cases(o, store, "mem");
       }},
  };
}

Payload make_payload(std::size_t size) {
  Payload p(size);
  for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<std::uint8_t>(i * 31 + 7);
  return p;
}

EventToWrite make_event(const Payload& payload) { return EventToWrite{EventId::generate(), event_type, payload, {}}; }

StreamId stream_id(const std::string& name) {
  auto id = StreamId::try_new(name);
  if (!id) throw std::runtime_error("bad stream id '" + name + "'");
  return std::move(id).value();
}

}  // namespace eventcore::bench
