// The remote command gateway: commands from another process over CAF's
// middleman, with the executor's outcome rules, bounded waits, lost nodes
// and mutual TLS. The gateways run in gateway_node processes: CAF gives a
// process one node identity, so a gateway and its caller in one process
// would not cross the network at all.

#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/remote_actor.hpp>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include "eventcore/actors/remote.hpp"
#include "eventcore/store/memory_store.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "eventcore/testing/child_process.hpp"
#include "eventcore/testing/pki.hpp"
#include "eventcore/testing/require_postgres.hpp"
#include "eventcore/testing/test_database.hpp"
#include "support/remote_domain.hpp"

using namespace eventcore;
using namespace std::chrono_literals;
using bank::AccountId;
using bank::Money;

namespace {

AccountId id(const char* text) { return AccountId::try_new(text).value(); }
Money cents(std::int64_t n) { return Money::try_new(n).value(); }

NetworkConfig quick_network() {
  NetworkConfig network;
  network.heartbeat_interval = 100ms;
  network.connection_timeout = 1000ms;
  network.connect_timeout = 3000ms;
  network.request_timeout = 20000ms;
  return network;
}

// A gateway_node process: a gateway with the test commands on a free port.
class GatewayNode : public testing::ChildProcess {
 public:
  explicit GatewayNode(const std::vector<std::string>& args = {})
      : ChildProcess(EVENTCORE_GATEWAY_NODE, args, "gateway listening on port ") {}
  RemoteConfig remote(NetworkConfig network = quick_network()) const {
    RemoteConfig config;
    config.port = static_cast<std::uint16_t>(port());
    config.network = std::move(network);
    return config;
  }
};

// Connects, or fails the test with the error (never a bare value() on an error).
RemoteExecutor connect_or_fail(CommandRegistry registry, const RemoteConfig& config) {
  auto node = RemoteExecutor::connect(std::move(registry), config);
  if (!node) FAIL("connect to 127.0.0.1:" << config.port << ": " << node.error().message);
  return std::move(*node);
}

std::vector<std::string> tls_args(const TlsConfig& tls) {
  return {"--tls-cert", tls.certificate, "--tls-key", tls.key, "--tls-ca", tls.ca_file};
}

template <class F>
std::chrono::milliseconds timed(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

}  // namespace

TEST_CASE("registry: a command round-trips by its wire name, and bad names and bytes are clear errors") {
  auto registry = testing::remote_test_commands();
  CHECK(registry.names() == std::vector<std::string>{"bank.Deposit", "bank.OpenAccount", "bank.TransferMoney",
                                                     "bank.Withdraw", "test.SlowDeposit"});
  auto encoded = registry.encode(bank::TransferMoney{id("a"), id("b"), cents(250), "rent"});
  REQUIRE(encoded.ok());
  CHECK(encoded->name == "bank.TransferMoney");
  auto job = registry.decode(*encoded, {.idempotency_key = "k-1"});
  REQUIRE(job.ok());
  CHECK((*job)->name == "TransferMoney");
  CHECK((*job)->streams == std::vector<StreamId>{id("a").stream(), id("b").stream()});
  CHECK((*job)->idempotency_key == std::optional<std::string>("k-1"));

  auto unknown = registry.decode({"bank.Close", encoded->bytes}, {});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ErrorCode::invalid_argument);
  CHECK(unknown.error().message.find("unknown command 'bank.Close'") != std::string::npos);
  CHECK(unknown.error().message.find("bank.TransferMoney") != std::string::npos);

  // Bytes that are not a command, and an account id the type refuses, never become commands.
  CommandRegistry raw;
  auto bad = registry.decode({"bank.Deposit", registry.encode(bank::Deposit{id("a"), cents(1), {}})->bytes.substr(0, 5)}, {});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("does not decode") != std::string::npos);
  std::ostringstream forged;
  {
    cereal::BinaryOutputArchive archive(forged);
    archive(std::uint8_t{1}, std::string("not an id!"), std::string("owner"));
  }
  auto refused = registry.decode({"bank.OpenAccount", forged.str()}, {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("'not an id!' is no account id") != std::string::npos);

  CHECK_THROWS_WITH(registry.add<bank::Deposit>("bank.Deposit2"), Catch::Contains("registered twice"));
  CHECK_THROWS_WITH(raw.add<bank::Deposit>("bank Deposit"), Catch::Contains("not 1 to 128 characters"));
  CHECK_FALSE(raw.encode(bank::Deposit{id("a"), cents(1), {}}).ok());
}

TEST_CASE("a remote node runs commands with the executor's outcomes: results, rejections and keys") {
  GatewayNode gateway;
  auto node = connect_or_fail(testing::remote_test_commands(), gateway.remote());
  CHECK(node.peer() == "127.0.0.1:" + std::to_string(gateway.port()));

  REQUIRE(node.execute_sync(bank::OpenAccount{id("ada"), "Ada"}).ok());
  REQUIRE(node.execute_sync(bank::OpenAccount{id("bob"), "Bob"}).ok());
  auto deposit = node.execute_sync(bank::Deposit{id("ada"), cents(1000), {}});
  REQUIRE(deposit.ok());
  CHECK(deposit->command == "Deposit");
  CHECK(deposit->attempts == 1);
  CHECK(deposit->events_written == 1);
  REQUIRE(deposit->stream_versions.size() == 1);
  CHECK(deposit->stream_versions[0].stream == id("ada").stream());
  CHECK(deposit->stream_versions[0].version.value == 2);
  CHECK(deposit->positions.size() == 1);

  auto transfer = node.execute_sync(bank::TransferMoney{id("ada"), id("bob"), cents(400), "r1"});
  REQUIRE(transfer.ok());
  CHECK(transfer->stream_versions.size() == 2);
  CHECK(transfer->positions.size() == 2);

  auto overdraft = node.execute_sync(bank::TransferMoney{id("ada"), id("bob"), cents(601), "r2"});
  REQUIRE_FALSE(overdraft.ok());
  CHECK(overdraft.error().code == CommandErrorCode::validation_failed);
  CHECK(overdraft.error().reason == "insufficient_funds");
  CHECK(overdraft.error().command == "TransferMoney");
  CHECK(overdraft.error().streams == std::vector<StreamId>{id("ada").stream(), id("bob").stream()});

  // The same key again: the first result, nothing written; with another command: refused.
  auto first = node.execute_sync(bank::Deposit{id("bob"), cents(5), {}}, {.idempotency_key = "dep-1"});
  auto again = node.execute_sync(bank::Deposit{id("bob"), cents(5), {}}, {.idempotency_key = "dep-1"});
  REQUIRE(first.ok());
  REQUIRE(again.ok());
  CHECK_FALSE(first->replayed);
  CHECK(again->replayed);
  CHECK(again->positions == first->positions);
  auto reused = node.execute_sync(bank::Deposit{id("ada"), cents(5), {}}, {.idempotency_key = "dep-1"});
  REQUIRE_FALSE(reused.ok());
  CHECK(reused.error().code == CommandErrorCode::invalid_command);
  CHECK(reused.error().reason == "idempotency_key_reused");

  // execute: the callback form. bob: opened, +400, +5 (once), now -1.
  std::promise<ExecuteResult> done;
  node.execute(bank::Withdraw{id("bob"), cents(1), {}}, [&](const ExecuteResult& r) { done.set_value(r); });
  auto future = done.get_future();
  REQUIRE(future.wait_for(10s) == std::future_status::ready);
  auto withdrawn = future.get();
  REQUIRE(withdrawn.ok());
  CHECK(withdrawn->stream_versions[0].version.value == 4);

  // Concurrent callers share the connection.
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t)
    callers.emplace_back([&] {
      for (int i = 0; i < 25; ++i) ok += node.execute_sync(bank::Deposit{id("ada"), cents(1), {}}).ok();
    });
  for (auto& c : callers) c.join();
  CHECK(ok == 200);
  auto last = node.execute_sync(bank::Deposit{id("ada"), cents(1), {}});
  REQUIRE(last.ok());
  CHECK(last->stream_versions[0].version.value == 2 + 1 + 200 + 1);  // opened, deposit, transfer, 200, this

  // A command this side never registered is refused before anything is sent.
  auto bank_only = RemoteExecutor::connect(bank::commands(), gateway.remote());
  if (!bank_only.ok()) FAIL(bank_only.error().message);
  auto unregistered = bank_only->execute_sync(testing::SlowDeposit{id("ada"), cents(1), 0});
  REQUIRE_FALSE(unregistered.ok());
  CHECK(unregistered.error().code == CommandErrorCode::invalid_command);
  CHECK(unregistered.error().message.find("not registered") != std::string::npos);
}

TEST_CASE("a command the gateway's node does not know is refused by name, and the connection stays usable") {
  GatewayNode gateway({"--bank-only"});
  auto node = connect_or_fail(testing::remote_test_commands(), gateway.remote());
  auto slow = node.execute_sync(testing::SlowDeposit{id("ada"), cents(1), 0});
  REQUIRE_FALSE(slow.ok());
  CHECK(slow.error().code == CommandErrorCode::invalid_command);
  CHECK(slow.error().message.find("unknown command 'test.SlowDeposit'") != std::string::npos);
  CHECK(slow.error().message.find("bank.Deposit") != std::string::npos);
  CHECK(node.execute_sync(bank::OpenAccount{id("ada"), "Ada"}).ok());
}

TEST_CASE("connecting where no gateway listens fails within the connect timeout, naming host and port") {
  RemoteConfig config;
  {
    GatewayNode gone;
    config = gone.remote();
  }  // killed: nothing listens on its port now
  std::optional<Result<RemoteExecutor>> node;
  const auto took = timed([&] { node.emplace(RemoteExecutor::connect(bank::commands(), config)); });
  REQUIRE_FALSE(node->ok());
  CHECK(node->error().code == ErrorCode::unavailable);
  CHECK(node->error().message.find("127.0.0.1:" + std::to_string(config.port)) != std::string::npos);
  CHECK(took < 10s);
}

TEST_CASE("bad network settings and unreadable TLS files are invalid_argument, naming the setting") {
  auto executor = CommandExecutor::builder().with_store(std::make_shared<MemoryStore>()).build().value();
  GatewayConfig config;
  config.network.tls = TlsConfig{"/nonexistent/node.pem", "/nonexistent/node.key", "/nonexistent/ca.pem", {}};
  auto missing = CommandGateway::publish(executor, bank::commands(), config);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::invalid_argument);
  CHECK(missing.error().message.find("certificate '/nonexistent/node.pem' cannot be read") != std::string::npos);
  config.network.tls = TlsConfig{};
  auto empty = CommandGateway::publish(executor, bank::commands(), config);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message.find("TLS needs certificate") != std::string::npos);
  RemoteConfig remote;
  remote.network.connection_timeout = remote.network.heartbeat_interval;
  auto silent = RemoteExecutor::connect(bank::commands(), remote);
  REQUIRE_FALSE(silent.ok());
  CHECK(silent.error().message.find("connection_timeout above it") != std::string::npos);

  // One network node per process: a second NetworkConfig that differs is refused while the first is in use.
  auto gateway = CommandGateway::publish(executor, bank::commands(), {}).value();
  GatewayConfig other;
  other.network.threads = 3;
  auto second = CommandGateway::publish(executor, bank::commands(), other);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message.find("already runs with other") != std::string::npos);
  auto same = CommandGateway::publish(executor, bank::commands(), {});
  if (!same.ok()) FAIL(same.error().message);
}

TEST_CASE("a gateway that is already bound elsewhere fails to publish with unavailable, naming the address") {
  GatewayNode taken;
  auto executor = CommandExecutor::builder().with_store(std::make_shared<MemoryStore>()).build().value();
  GatewayConfig config;
  config.port = static_cast<std::uint16_t>(taken.port());
  auto gateway = CommandGateway::publish(executor, bank::commands(), config);
  REQUIRE_FALSE(gateway.ok());
  CHECK(gateway.error().code == ErrorCode::unavailable);
  CHECK(gateway.error().message.find("127.0.0.1:" + std::to_string(taken.port())) != std::string::npos);
}

TEST_CASE("a node with another wire version is refused at connect, with a clear error") {
  GatewayNode foreign({"--foreign-wire"});
  auto node = RemoteExecutor::connect(bank::commands(), foreign.remote());
  REQUIRE_FALSE(node.ok());
  INFO(node.error().message);
  CHECK(node.error().code == ErrorCode::unavailable);
  CHECK(node.error().message.find("another wire version") != std::string::npos);
}

TEST_CASE("a gateway node killed or frozen mid-command: the caller hears within the connection timeout") {
  for (const int signal : {SIGKILL, SIGSTOP}) {
    DYNAMIC_SECTION("signal " << signal) {
      GatewayNode gateway({"--heartbeat-ms", "100", "--connection-timeout-ms", "1000"});
      auto node = connect_or_fail(testing::remote_test_commands(), gateway.remote());
      REQUIRE(node.execute_sync(bank::OpenAccount{id("ada"), "Ada"}).ok());
      std::promise<ExecuteResult> answer;
      node.execute(testing::SlowDeposit{id("ada"), cents(1), 10'000},
                   [&](const ExecuteResult& r) { answer.set_value(r); });
      std::this_thread::sleep_for(200ms);
      gateway.signal(signal);
      auto future = answer.get_future();
      const auto took = timed([&] { REQUIRE(future.wait_for(8s) == std::future_status::ready); });
      auto lost = future.get();
      REQUIRE_FALSE(lost.ok());
      CHECK(lost.error().code == CommandErrorCode::store_unavailable);
      CHECK(lost.error().message.find("may have committed") != std::string::npos);
      CHECK(took < 5s);  // the request timeout is 20 s: the connection's loss answered
      // The next command tries to connect again, and fails clearly.
      auto next = node.execute_sync(bank::Deposit{id("ada"), cents(1), {}});
      REQUIRE_FALSE(next.ok());
      CHECK(next.error().code == CommandErrorCode::store_unavailable);
      if (signal == SIGSTOP) gateway.signal(SIGCONT);
    }
  }
}

TEST_CASE("a gateway whose handshake comes after the caller's heartbeat tick is connected, and a frozen one fails "
          "at the connect timeout") {
  GatewayNode gateway;
  // Frozen: the kernel accepts the connection, the gateway's handshake waits.
  // CAF drops such a connection at the caller's next heartbeat tick (100 ms)
  // as "timed out"; the connect must try again, not give up.
  gateway.signal(SIGSTOP);
  auto pending = std::async(std::launch::async,
                            [&] { return RemoteExecutor::connect(testing::remote_test_commands(), gateway.remote()); });
  std::this_thread::sleep_for(350ms);  // three of the caller's ticks
  gateway.signal(SIGCONT);
  REQUIRE(pending.wait_for(10s) == std::future_status::ready);
  auto node = pending.get();
  if (!node) FAIL("connect: " << node.error().message);
  CHECK(node->execute_sync(bank::OpenAccount{id("ada"), "Ada"}).ok());

  GatewayNode frozen;
  frozen.signal(SIGSTOP);
  auto network = quick_network();
  network.connect_timeout = 600ms;
  std::optional<Result<RemoteExecutor>> refused;
  const auto took =
      timed([&] { refused.emplace(RemoteExecutor::connect(testing::remote_test_commands(), frozen.remote(network))); });
  frozen.signal(SIGCONT);
  REQUIRE_FALSE(refused->ok());
  CHECK(refused->error().code == ErrorCode::unavailable);
  CHECK(refused->error().message.find("127.0.0.1:" + std::to_string(frozen.port())) != std::string::npos);
  CHECK(took >= 500ms);  // not given up at the first tick
  CHECK(took < 3s);
}

TEST_CASE("PostgreSQL: a node killed mid-command at any moment, then the retry with the same key on another node "
          "writes the command exactly once") {
  EVENTCORE_REQUIRE_POSTGRES();
  testing::ScopedSchema schema("remote_retry");
  const std::vector<std::string> args{"--database", testing::test_database_url(), "--schema", schema.name()};
  GatewayNode b(args);
  auto to_b = connect_or_fail(testing::remote_test_commands(), b.remote());
  REQUIRE(to_b.execute_sync(bank::OpenAccount{id("ada"), "Ada"}).ok());
  // The handle takes 300 ms; the node dies before, around and after its commit.
  const std::vector<int> kill_after_ms{100, 250, 300, 350, 600};
  for (std::size_t round = 0; round < kill_after_ms.size(); ++round) {
    GatewayNode a(args);
    auto to_a = connect_or_fail(testing::remote_test_commands(), a.remote());
    const auto key = "slow-" + std::to_string(round);
    std::promise<ExecuteResult> answer;
    to_a.execute(testing::SlowDeposit{id("ada"), cents(100), 300}, [&](const ExecuteResult& r) { answer.set_value(r); },
                 {.idempotency_key = key});
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms[round]));
    a.signal(SIGKILL);
    auto future = answer.get_future();
    REQUIRE(future.wait_for(8s) == std::future_status::ready);
    auto first = future.get();
    if (!first.ok()) {
      INFO(first.error().message);
      CHECK(first.error().code == CommandErrorCode::store_unavailable);
    }
    auto retry = to_b.execute_sync(testing::SlowDeposit{id("ada"), cents(100), 0}, {.idempotency_key = key});
    REQUIRE(retry.ok());
    if (first.ok()) CHECK(retry->replayed);
  }
  PostgresStoreConfig config;
  config.conninfo = testing::test_database_url();
  config.schema = schema.name();
  auto store = PostgresStore::open(config).value();
  auto events = store->read_stream(id("ada").stream(), StreamVersion{1}, 100, StreamVersion{~0ull}).value();
  CHECK(events.events.size() == 1 + kill_after_ms.size());  // opened, then each deposit exactly once
}

TEST_CASE("mutual TLS: nodes of one CA talk, while another CA's node, a client without a certificate and plain TCP "
          "are refused") {
  testing::Pki pki;
  pki.make_ca("cluster-ca");
  pki.make_ca("other-ca");
  GatewayNode gateway(tls_args(pki.node("node-a", "cluster-ca")));

  auto with_tls = [&](std::optional<TlsConfig> tls) {
    auto network = quick_network();
    network.tls = std::move(tls);
    return RemoteExecutor::connect(bank::commands(), gateway.remote(network));
  };
  {
    auto node = with_tls(pki.node("node-b", "cluster-ca"));
    REQUIRE(node.ok());
    CHECK(node->execute_sync(bank::OpenAccount{id("ada"), "Ada"}).ok());
    auto again = node->execute_sync(bank::OpenAccount{id("ada"), "Ada"});
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().reason == "account_exists");
  }
  {
    // Signed by another CA that trusts the cluster's CA: only the gateway's check can refuse it.
    auto node = with_tls(pki.node("intruder", "other-ca", "cluster-ca"));
    REQUIRE_FALSE(node.ok());
    CHECK(node.error().code == ErrorCode::unavailable);
  }
  {
    // A gateway of another CA: the client's check refuses it.
    GatewayNode stranger(tls_args(pki.node("stranger", "other-ca")));
    auto network = quick_network();
    network.tls = pki.node("node-c", "cluster-ca");
    auto node = RemoteExecutor::connect(bank::commands(), stranger.remote(network));
    REQUIRE_FALSE(node.ok());
    CHECK(node.error().code == ErrorCode::unavailable);
  }
  {
    auto node = with_tls(std::nullopt);  // plain TCP to a TLS node
    REQUIRE_FALSE(node.ok());
    CHECK(node.error().code == ErrorCode::unavailable);
    CHECK(node.error().message.find("127.0.0.1:" + std::to_string(gateway.port())) != std::string::npos);
  }
  {
    // TLS without a certificate (CAF directly: a TlsConfig always has one,
    // and CAF refuses to start a TLS node that verifies peers without one,
    // so this client speaks anonymous TLS).
    caf::actor_system_config cfg;
    cfg.load<caf::io::middleman>();
    cfg.load<caf::openssl::manager>();
    cfg.set("middleman.app-identifiers", std::vector<std::string>{"eventcore-wire-1"});
    caf::actor_system client{cfg};
    std::promise<bool> connected;
    std::thread attempt([&] {
      connected.set_value(static_cast<bool>(caf::openssl::remote_actor(client, "127.0.0.1", gateway.port())));
    });
    auto future = connected.get_future();
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    CHECK_FALSE(future.get());
    attempt.join();
  }
}
