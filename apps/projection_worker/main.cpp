// eventcore-projection-worker: runs named projections against a database, as
// a process of its own. Start several for the same projection: one is active
// (it holds the projection's advisory lock), the others are standbys that take
// over when it dies. Prints one JSON status line per projection every
// --status-ms on stdout; stops cleanly on SIGINT/SIGTERM.
//
//   eventcore-projection-worker --database postgresql://... --schema eventcore
//       --projection event_counts --projection event_copy

#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <nlohmann/json.hpp>

#include "builtin_projections.hpp"
#include "eventcore/store/postgres_store.hpp"

namespace {
std::atomic<bool> stop_requested{false};
void on_signal(int) { stop_requested = true; }
}  // namespace

int main(int argc, char** argv) {
  using namespace eventcore;
  CLI::App app{"Runs EventCore projections as a worker process"};
  std::string database, schema = "eventcore", channel = "eventcore_events";
  std::vector<std::string> names;
  int poll_ms = 1000, status_ms = 5000, standby_ms = 500, apply_delay_us = 0;
  std::size_t page_size = 1000;
  app.add_option("--database", database, "PostgreSQL connection string or URI")
      ->envname("EVENTCORE_DATABASE_URL")
      ->required();
  std::string replica;
  app.add_option("--replica", replica,
                 "a hot standby of --database to read events from (checkpoints, read models and leadership stay on "
                 "--database)")
      ->envname("EVENTCORE_REPLICA_URL");
  app.add_option("--schema", schema, "the store's schema");
  app.add_option("--channel", channel, "the notification channel");
  app.add_option("--projection", names, "a projection to run (event_counts, event_copy)")->required();
  app.add_option("--page-size", page_size, "events per read and per transaction")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))
      ->capture_default_str();
  app.add_option("--poll-ms", poll_ms, "safety-net poll interval")->check(CLI::Range(10, 3600000))->capture_default_str();
  app.add_option("--standby-ms", standby_ms, "how often a standby tries to take over")
      ->check(CLI::Range(10, 3600000))
      ->capture_default_str();
  app.add_option("--status-ms", status_ms, "status line interval")->check(CLI::Range(10, 3600000))->capture_default_str();
  app.add_option("--apply-delay-us", apply_delay_us, "sleep in every apply (tests: a slow projection)")
      ->check(CLI::Range(0, 10000000));
  CLI11_PARSE(app, argc, argv);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  PostgresStoreConfig store_config;
  store_config.conninfo = database;
  store_config.schema = schema;
  store_config.pool_size = 2;
  store_config.notify_channel = channel;
  store_config.replica_conninfo = replica;
  auto store = PostgresStore::open(store_config);
  if (!store) {
    std::cerr << "cannot open the store: " << to_string(store.error()) << "\n";
    return 1;
  }
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  projections::ProjectionRuntimeConfig rc;
  rc.poll_interval = std::chrono::milliseconds(poll_ms);
  rc.standby_interval = std::chrono::milliseconds(standby_ms);
  auto runtime = projections::ProjectionRuntime::start(system, std::shared_ptr<EventStore>(std::move(store).value()), rc);
  if (!runtime) {
    std::cerr << "cannot start projections: " << to_string(runtime.error()) << "\n";
    return 1;
  }
  const auto factories = worker::builtin_projections(std::chrono::microseconds(apply_delay_us));
  for (const auto& name : names) {
    auto it = factories.find(name);
    if (it == factories.end()) {
      std::cerr << "unknown projection '" << name << "' (known: event_counts, event_copy)\n";
      return 2;
    }
    projections::ProjectionOptions options;
    options.name = name;
    options.page_size = page_size;
    if (auto s = runtime.value()->add(options, it->second); !s) {
      std::cerr << to_string(s.error()) << "\n";
      return 2;
    }
  }
  auto last_status = std::chrono::steady_clock::now() - std::chrono::hours(1);
  while (!stop_requested) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (std::chrono::steady_clock::now() - last_status < std::chrono::milliseconds(status_ms)) continue;
    last_status = std::chrono::steady_clock::now();
    for (const auto& name : names) {
      auto s = runtime.value()->status(name);
      if (!s) continue;
      nlohmann::json line{{"projection", name},
                          {"state", std::string(projections::to_string(s->state))},
                          {"position", to_string(s->position)},
                          {"head", to_string(s->head)},
                          {"lag_events", s->lag_events},
                          {"lag_ms", s->lag_ms},
                          {"applied", s->events_applied},
                          {"error", s->error}};
      std::cout << line.dump() << std::endl;
    }
  }
  runtime.value()->stop();
  return 0;
}
