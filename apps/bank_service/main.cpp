// eventcore-bank-service: the bank over HTTP (see service.hpp for the routes).
//
//   eventcore-bank-service --listen 127.0.0.1:8080 --database postgresql://...
//   eventcore-bank-service --listen 127.0.0.1:8080 --store memory
//   ... --gateway 0.0.0.0:7400 --tls-cert node.pem --tls-key node.key --tls-ca ca.pem
//
// --gateway also serves the bank's commands to other nodes and to
// `eventcore execute --connect` (eventcore/actors/remote.hpp); --grpc
// serves them and stream reads over gRPC (apps/bank_grpc/proto/bank.proto).
//
// SIGINT or SIGTERM: stop accepting, answer the requests in flight, stop the
// runtime, exit 0.

#include <pthread.h>
#include <signal.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "eventcore/actors/logging.hpp"
#include "eventcore/actors/remote.hpp"
#include "eventcore/actors/scheduler_tuning.hpp"
#include "eventcore/apps/node_flags.hpp"
#include "eventcore/bank/registry.hpp"
#include "eventcore/bank_grpc/grpc_front.hpp"
#include "eventcore/bank_service/service.hpp"
#include "eventcore/store/memory_store.hpp"
#include "eventcore/store/postgres_store.hpp"

using namespace eventcore;

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:8080", database, store_kind, schema = "eventcore";
  CLI::App app{"The EventCore bank as an HTTP/1.1 JSON service"};
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)")
      ->envname("EVENTCORE_LISTEN")
      ->capture_default_str();
  app.add_option("--database", database, "PostgreSQL connection string or URI")
                 ->envname("EVENTCORE_DATABASE_URL");
  app.add_option("--store", store_kind, "'memory': an in-memory store (nothing survives; overrides --database)")
      ->check(CLI::IsMember({"memory"}));
  app.add_option("--schema", schema, "the store's schema (PostgreSQL)")->capture_default_str();
  std::string log_format = "text", log_level = "info";
  app.add_option("--log-format", log_format, "text or json (one JSON object per line)")
      ->envname("EVENTCORE_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug (every command), info (every request), warn, error, off")
      ->envname("EVENTCORE_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  bank_service::ServiceConfig service_config;
  app.add_option("--threads", service_config.http_threads, "connections served at once")
      ->check(CLI::Range(std::size_t{1}, std::size_t{4096}))
      ->capture_default_str();
  std::string gateway_at;
  app.add_option("--gateway", gateway_at, "HOST:PORT: serve the bank's commands to other nodes there")
      ->envname("EVENTCORE_GATEWAY");
  std::string grpc_at;
  app.add_option("--grpc", grpc_at, "HOST:PORT: serve the bank over gRPC there (plain text)")->envname("EVENTCORE_GRPC");
  TlsConfig tls_flags;
  apps::add_tls_flags(app, tls_flags);
  std::optional<TlsConfig> tls;
  try {
    app.parse(argc, argv);
    tls = apps::tls_from_flags(tls_flags);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  configure_logging({parse_log_format(log_format).value(), parse_log_level(log_level).value()});
  if (database.empty() && store_kind.empty()) {
    std::cerr << "eventcore-bank-service: give --database URL or --store memory\n";
    return 2;
  }
  // HOST:PORT flags; an empty optional one stays none. Usage errors name the flag.
  std::optional<std::string> bad_flag;
  auto endpoint_of = [&](const std::string& text, const char* flag) -> std::optional<Endpoint> {
    if (text.empty()) return std::nullopt;
    auto parsed = Endpoint::parse(text);
    if (!parsed) {
      std::cerr << "eventcore-bank-service: " << flag << ": " << parsed.error().message << "\n";
      bad_flag = flag;
      return std::nullopt;
    }
    return *parsed;
  };
  const auto endpoint = endpoint_of(listen, "--listen");
  const auto gateway_endpoint = endpoint_of(gateway_at, "--gateway");
  const auto grpc_endpoint = endpoint_of(grpc_at, "--grpc");
  if (!endpoint && !bad_flag) std::cerr << "eventcore-bank-service: --listen must be HOST:PORT\n";
  if (bad_flag || !endpoint) return 2;
  const std::string host = endpoint->host;
  const int port = endpoint->port;

  // Signals go to one thread that stops the service; every other thread
  // (started below, so they inherit the mask) ignores them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::shared_ptr<EventStore> store;
  if (store_kind == "memory") database.clear();
  if (!database.empty()) {
    PostgresStoreConfig config;
    config.conninfo = database;
    config.schema = schema;
    auto opened = PostgresStore::open(config);
    if (!opened) {
      std::cerr << "eventcore-bank-service: cannot open the store: " << to_string(opened.error()) << "\n";
      return 1;
    }
    store = std::shared_ptr<EventStore>(std::move(opened).value());
  } else {
    store = std::make_shared<MemoryStore>();
  }
  caf::actor_system_config cfg;
  configure_scheduler(cfg);
  caf::actor_system system{cfg};
  auto executor = CommandExecutor::builder().with_system(system).with_store(store).build();
  if (!executor) {
    std::cerr << "eventcore-bank-service: " << to_string(executor.error()) << "\n";
    return 1;
  }
  auto service = bank_service::BankService::create(system, store, executor.value(), service_config);
  if (!service) {
    std::cerr << "eventcore-bank-service: " << to_string(service.error()) << "\n";
    return 1;
  }
  std::optional<CommandGateway> gateway;
  if (gateway_endpoint) {
    GatewayConfig config;
    config.host = gateway_endpoint->host;
    config.port = gateway_endpoint->port;
    config.network.tls = tls;
    auto published = CommandGateway::publish(executor.value(), bank::commands(), config);
    if (!published) {
      std::cerr << "eventcore-bank-service: " << to_string(published.error()) << "\n";
      return 1;
    }
    gateway = *published;
    std::cout << "command gateway on " << gateway_endpoint->host << ":" << gateway->port()
              << (tls ? " (mutual TLS)" : " (plain TCP)") << std::endl;
  }
  std::unique_ptr<bank_grpc::GrpcFront> grpc;
  if (grpc_endpoint) {
    auto started = bank_grpc::GrpcFront::start(executor.value(), store, grpc_endpoint->host, grpc_endpoint->port);
    if (!started) {
      std::cerr << "eventcore-bank-service: " << to_string(started.error()) << "\n";
      return 1;
    }
    grpc = std::move(*started);
    std::cout << "grpc on " << grpc_endpoint->host << ":" << grpc->port() << std::endl;
  }
  auto bound = (*service)->bind(host, port);
  if (!bound) {
    std::cerr << "eventcore-bank-service: " << to_string(bound.error()) << "\n";
    return 1;
  }
  std::cout << "listening on http://" << host << ":" << *bound << " (store: "
            << (database.empty() ? std::string("memory") : redact_conninfo(database)) << ")" << std::endl;
  std::thread waiter([&] {
    int received = 0;
    sigwait(&signals, &received);
    std::cout << "stopping (signal " << received << "): answering the requests in flight" << std::endl;
    (*service)->stop();
  });
  (*service)->serve();
  // serve() returns after stop(), or when listening failed: stop the waiter either way.
  if (waiter.joinable()) {
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
  }
  (*service)->stop();
  if (gateway) gateway->close();
  if (grpc) grpc->shutdown();
  executor.value().shutdown();
  std::cout << "stopped" << std::endl;
  return 0;
}
