#include "service_metrics.hpp"

#include <prometheus/text_serializer.h>

#include "eventcore/store/postgres_store.hpp"

namespace eventcore::bank_service {

namespace {
template <class T>
prometheus::Family<T>& family(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return prometheus::detail::Builder<T>().Name(name).Help(help).Register(registry);
}
}  // namespace

ServiceMetrics::ServiceMetrics()
    : requests_(family<prometheus::Counter>(*registry_, "eventcore_http_requests_total",
                                            "HTTP requests answered, by route pattern, method and status")),
      durations_(family<prometheus::Histogram>(*registry_, "eventcore_http_request_duration_seconds",
                                               "Time from the request's arrival to its answer, by route pattern")),
      position_(family<prometheus::Gauge>(*registry_, "eventcore_projection_position",
                                          "The sequence of the last event a projection applied")),
      lag_events_(family<prometheus::Gauge>(*registry_, "eventcore_projection_lag_events",
                                            "Events a projection wants and has not applied yet")),
      lag_seconds_(family<prometheus::Gauge>(*registry_, "eventcore_projection_lag_seconds",
                                             "Age of the oldest event a projection has still to apply")),
      held_back_(family<prometheus::Gauge>(*registry_, "eventcore_projection_held_back_events",
                                           "Committed events gap-free reading cannot return yet (an open "
                                           "transaction holds them back)")),
      stalled_(family<prometheus::Gauge>(*registry_, "eventcore_projection_stalled_seconds",
                                         "How long the oldest held-back event has waited")),
      restarts_(family<prometheus::Gauge>(*registry_, "eventcore_projection_restarts",
                                          "Times the projection's actor ended unexpectedly and was started again")),
      running_(family<prometheus::Gauge>(*registry_, "eventcore_projection_running",
                                         "1 while the projection runs or catches up, else 0")) {}

void ServiceMetrics::record_request(const std::string& route, const std::string& method, int status,
                                    std::chrono::nanoseconds duration) {
  requests_.Add({{"route", route}, {"method", method}, {"status", std::to_string(status)}}).Increment();
  histogram(route).Observe(std::chrono::duration<double>(duration).count());
}

prometheus::Histogram& ServiceMetrics::histogram(const std::string& route) {
  // Family::Add builds a histogram (its buckets) before it looks the labels
  // up: once per route here, not once per request.
  std::lock_guard lock(histograms_mutex_);
  auto it = histograms_.find(route);
  if (it != histograms_.end()) return *it->second;
  static const prometheus::Histogram::BucketBoundaries bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                               0.025,  0.05,    0.1,    0.25,  1,      5};
  auto& made = durations_.Add({{"route", route}}, bounds);
  histograms_.emplace(route, &made);
  return made;
}

void ServiceMetrics::record_projection(const projections::ProjectionStatus& s) {
  const prometheus::Labels labels{{"projection", s.name}};
  position_.Add(labels).Set(static_cast<double>(s.position.sequence));
  lag_events_.Add(labels).Set(static_cast<double>(s.lag_events));
  lag_seconds_.Add(labels).Set(s.lag_ms / 1000.0);
  held_back_.Add(labels).Set(static_cast<double>(s.held_back_events));
  stalled_.Add(labels).Set(s.stalled_ms / 1000.0);
  restarts_.Add(labels).Set(static_cast<double>(s.restarts));
  const bool running = s.state == projections::ProjectionState::running ||
                       s.state == projections::ProjectionState::catching_up;
  running_.Add(labels).Set(running ? 1 : 0);
}

std::string ServiceMetrics::render(const RuntimeMetrics& runtime, const EventStore& store) const {
  auto families = registry_->Collect();
  for (auto& family : runtime.collect()) families.push_back(std::move(family));
  // The connection pool, read now (a PostgreSQL store only).
  if (const auto* postgres = dynamic_cast<const PostgresStore*>(&store)) {
    const auto pool = postgres->pool_stats();
    auto value = [](double v, std::vector<prometheus::ClientMetric::Label> labels, bool counter) {
      prometheus::ClientMetric m;
      m.label = std::move(labels);
      (counter ? m.counter.value : m.gauge.value) = v;
      return m;
    };
    families.push_back({"eventcore_pool_connections", "The store's connection pool: its size and connections in use",
                        prometheus::MetricType::Gauge,
                        {value(static_cast<double>(pool.size), {{"state", "size"}}, false),
                         value(static_cast<double>(pool.in_use), {{"state", "in_use"}}, false)}});
    families.push_back({"eventcore_pool_waits_total", "Acquires that found every pooled connection in use",
                        prometheus::MetricType::Counter, {value(static_cast<double>(pool.waits), {}, true)}});
    families.push_back({"eventcore_pool_wait_seconds_total", "Time spent waiting for a pooled connection",
                        prometheus::MetricType::Counter, {value(pool.waited_seconds, {}, true)}});
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace eventcore::bank_service
