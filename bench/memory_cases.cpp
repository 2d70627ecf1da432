// In-memory cases: MemoryStore appends against the irreducible cost of the
// same work, copying the same pre-built events into a std::vector under a
// std::mutex. One thread; requests are built outside the timed region, in
// chunks, so that RAM stays bounded.

#include <iostream>
#include <mutex>
#include <stdexcept>

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

template <class Sink>
RunStats run_memory(const Options& o, std::size_t batch) {
  const Payload payload = make_payload(o.payload_bytes);
  const StreamId stream = stream_id("mem-0");
  const auto window = std::chrono::duration<double>(o.seconds);
  auto sink = std::make_unique<Sink>();
  RunStats stats;
  Clock::duration elapsed{};
  double cpu = 0;
  std::uint64_t version = 0;
  std::vector<AppendRequest> requests;
  while (elapsed < window && stats.units < o.memory_max_events) {
    const std::size_t count = std::max<std::size_t>(1, std::min(chunk_events, o.memory_max_events - stats.units) / batch);
    requests.clear();
    requests.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      StreamWrite write{stream, ExpectedVersion::exact(version), {}};
      write.events.reserve(batch);
      for (std::size_t e = 0; e < batch; ++e) write.events.push_back(make_event(payload));
      version += batch;
      AppendRequest request;
      request.streams.push_back(std::move(write));
      requests.push_back(std::move(request));
    }
    const double cpu0 = thread_cpu_seconds();
    const auto t0 = Clock::now();
    for (const auto& request : requests) sink->append(request);
    elapsed += Clock::now() - t0;
    cpu += thread_cpu_seconds() - cpu0;
    stats.ops += count;
    stats.units += count * batch;
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

void run_memory_case(const Options& o, const std::string& name, std::size_t batch, std::optional<double> target) {
  Side baseline{"vector+mutex", [&] { return run_memory<VectorSink>(o, batch); }};
  Side subject{"MemoryStore", [&] { return run_memory<StoreSink>(o, batch); }};
  const bool per_event = batch > 1;
  const std::string unit = per_event ? "events/s" : "tx/s";
  auto c = alternate(name, o.reps, baseline, subject, per_event, unit);
  CaseReport r;
  r.bench = name;
  r.metric = "append_throughput";
  r.unit = unit;
  r.clients = 1;
  r.baseline = "vector_under_mutex";
  r.per_event = per_event;
  r.target_value = target;
  r.extra["events_per_append"] = batch;
  r.extra["payload_bytes"] = o.payload_bytes;
  r.extra["max_events_per_run"] = o.memory_max_events;
  emit(r, c);
}

}  // namespace

std::vector<Case> memory_cases() {
  return {
      {"mem_append_single", "MemoryStore, one event per append", false,
       [](const Options& o) { run_memory_case(o, "mem_append_single", 1, std::nullopt); }},
      {"mem_append_batch100", "MemoryStore, 100 events per append", false,
       [](const Options& o) { run_memory_case(o, "mem_append_batch100", 100, 2'000'000.0); }},
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
