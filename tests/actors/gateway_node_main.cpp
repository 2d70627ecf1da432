// gateway_node: a node for the remote gateway's multi-process tests. Runs an
// executor (on PostgreSQL, or in memory) behind a CommandGateway with the
// test commands, prints "gateway listening on port N", and serves until
// killed. With --foreign-wire it is a CAF node of another wire version
// instead (an actor published under another app identifier).

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>

#include <cstdio>

#include "eventcore/actors/remote.hpp"
#include "eventcore/store/memory_store.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "support/remote_domain.hpp"

int main(int argc, char** argv) {
  using namespace eventcore;
  CLI::App app{"a command gateway node for tests"};
  std::string database, schema = "public";
  TlsConfig tls;
  int heartbeat_ms = 200, silence_ms = 1000;
  bool foreign = false, bank_only = false;
  app.add_flag("--bank-only", bank_only, "serve the bank's commands only");
  app.add_flag("--foreign-wire", foreign, "be a CAF node of another wire version");
  app.add_option("--database", database, "PostgreSQL URL (default: in memory)");
  app.add_option("--schema", schema);
  app.add_option("--tls-cert", tls.certificate);
  app.add_option("--tls-key", tls.key);
  app.add_option("--tls-ca", tls.ca_file);
  app.add_option("--heartbeat-ms", heartbeat_ms)->check(CLI::Range(10, 60'000));
  app.add_option("--connection-timeout-ms", silence_ms)->check(CLI::Range(20, 600'000));
  CLI11_PARSE(app, argc, argv);

  if (foreign) {
    caf::actor_system_config cfg;
    cfg.load<caf::io::middleman>();
    cfg.set("middleman.app-identifiers", std::vector<std::string>{"eventcore-wire-0"});
    caf::actor_system system{cfg};
    // An argument: CAF 0.17 binds a reference to a null tuple for an
    // argument-less function actor (UBSan reports it).
    auto actor = system.spawn([](int offset) -> caf::behavior { return {[=](int x) { return x + offset; }}; }, 0);
    auto port = system.middleman().publish(actor, 0, "127.0.0.1");
    if (!port) return 1;
    std::printf("gateway listening on port %u\n", static_cast<unsigned>(*port));
    std::fflush(stdout);
    for (;;) ::pause();
  }

  std::shared_ptr<EventStore> store;
  if (database.empty()) {
    store = std::make_shared<MemoryStore>();
  } else {
    PostgresStoreConfig config;
    config.conninfo = database;
    config.schema = schema;
    auto opened = PostgresStore::open(config);
    if (!opened) {
      std::fprintf(stderr, "error: %s\n", to_string(opened.error()).c_str());
      return 1;
    }
    store = std::move(*opened);
  }
  auto executor = CommandExecutor::builder().with_store(store).build();
  if (!executor) {
    std::fprintf(stderr, "error: %s\n", to_string(executor.error()).c_str());
    return 1;
  }
  GatewayConfig config;
  config.network.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  config.network.connection_timeout = std::chrono::milliseconds(silence_ms);
  if (!tls.certificate.empty() || !tls.key.empty() || !tls.ca_file.empty()) config.network.tls = tls;
  auto gateway = CommandGateway::publish(*executor, bank_only ? bank::commands() : testing::remote_test_commands(), config);
  if (!gateway) {
    std::fprintf(stderr, "error: %s\n", to_string(gateway.error()).c_str());
    return 1;
  }
  std::printf("gateway listening on port %u\n", static_cast<unsigned>(gateway->port()));
  std::fflush(stdout);
  for (;;) ::pause();
}
