#pragma once

// GET /metrics: the service's metrics in the Prometheus text format, built
// and serialized with prometheus-cpp:
//   eventcore_http_requests_total{route,method,status}
//   eventcore_http_request_duration_seconds{route} (histogram)
//   eventcore_projection_position / _lag_events / _lag_seconds / _held_back_events /
//   _stalled_seconds / _restarts, and _running (1 or 0), per projection, read at scrape time
// with the command runtime's metrics (commands by type and outcome, events
// written, retries by reason, duration and per-phase histograms) and the
// PostgreSQL connection pool's use (eventcore_pool_connections{state},
// eventcore_pool_waits_total, eventcore_pool_wait_seconds_total).

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "eventcore/actors/metrics.hpp"
#include "eventcore/projections/projection.hpp"

namespace eventcore::bank_service {

class ServiceMetrics {
 public:
  ServiceMetrics();
  // One answered request; `route` is its pattern ("/accounts/{id}"), never the raw path.
  void record_request(const std::string& route, const std::string& method, int status,
                      std::chrono::nanoseconds duration);
  // The projection's state, as of now.
  void record_projection(const projections::ProjectionStatus& status);
  // Everything in one exposition: this registry's families, the command
  // runtime's (RuntimeMetrics::collect) and the store's connection pool.
  std::string render(const RuntimeMetrics& runtime, const EventStore& store) const;

 private:
  prometheus::Histogram& histogram(const std::string& route);

  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Family<prometheus::Gauge>& position_;
  prometheus::Family<prometheus::Gauge>& lag_events_;
  prometheus::Family<prometheus::Gauge>& lag_seconds_;
  prometheus::Family<prometheus::Gauge>& held_back_;
  prometheus::Family<prometheus::Gauge>& stalled_;
  prometheus::Family<prometheus::Gauge>& restarts_;
  prometheus::Family<prometheus::Gauge>& running_;
  std::mutex histograms_mutex_;
  std::map<std::string, prometheus::Histogram*> histograms_;  // by route; owned by durations_
};

}  // namespace eventcore::bank_service
