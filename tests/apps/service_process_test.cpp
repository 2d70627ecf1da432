// The eventcore-bank-service binary as a process: SIGTERM under load on
// PostgreSQL, every answer whole, every acknowledged transfer in the store,
// exit status 0; and one JSON log line per request.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "eventcore/store/postgres_store.hpp"
#include "eventcore/testing/child_process.hpp"
#include "eventcore/testing/pki.hpp"
#include "eventcore/testing/require_postgres.hpp"
#include "eventcore/testing/test_database.hpp"

using namespace eventcore;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// The service binary in a child process, on a free port.
class ServiceProcess : public testing::ChildProcess {
 public:
  explicit ServiceProcess(const std::vector<std::string>& args)
      : ChildProcess(EVENTCORE_BANK_SERVICE, args, "listening on http://127.0.0.1:") {}
};

}  // namespace

TEST_CASE("SIGTERM under load: the service answers whole or not at all, loses no acknowledged transfer, exits 0") {
  EVENTCORE_REQUIRE_POSTGRES();
  testing::ScopedSchema schema("service_process");
  ServiceProcess service({"--listen", "127.0.0.1:0", "--database", testing::test_database_url(), "--schema",
                          schema.name(), "--log-format", "json"});
  httplib::Client setup("127.0.0.1", service.port());
  setup.set_read_timeout(10, 0);
  for (const char* id : {"a", "b"}) {
    REQUIRE(setup.Post("/accounts", json{{"id", id}}.dump(), "application/json")->status == 201);
    REQUIRE(setup.Post(std::string("/accounts/") + id + "/deposits", R"({"amount_cents": 1000000})",
                       "application/json")->status == 200);
  }

  std::mutex mutex;
  std::set<std::string> acknowledged;  // positions of transfers answered 200
  std::atomic<int> torn{0}, refused{0}, answered{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&, t] {
      while (!stop) {
        httplib::Client c("127.0.0.1", service.port());
        c.set_read_timeout(10, 0);
        c.set_connection_timeout(2, 0);
        const std::string body = t % 2 ? R"({"from": "a", "to": "b", "amount_cents": 1})"
                                       : R"({"from": "b", "to": "a", "amount_cents": 1})";
        auto r = c.Post("/transfers", body, "application/json");
        if (!r) {
          ++refused;  // no answer at all: the connection was refused or closed (not acknowledged)
          if (stop) return;
          std::this_thread::sleep_for(5ms);
          continue;
        }
        ++answered;
        auto parsed = json::parse(r->body, nullptr, false);
        if (parsed.is_discarded()) {
          ++torn;
          continue;
        }
        if (r->status == 200) {
          std::lock_guard lock(mutex);
          acknowledged.insert(parsed["position"].get<std::string>());
        }
      }
    });
  // Under load for a moment, then SIGTERM.
  for (int i = 0; i < 500 && answered < 100; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(answered >= 100);
  CHECK(service.stop(SIGTERM) == 0);
  stop = true;
  for (auto& t : clients) t.join();
  CHECK(torn == 0);
  CHECK(service.stdout_text().find("stopped") != std::string::npos);

  // Every acknowledged transfer is in the log.
  PostgresStoreConfig config;
  config.conninfo = testing::test_database_url();
  config.schema = schema.name();
  auto store = PostgresStore::open(config).value();
  std::set<std::string> logged;
  GlobalPosition at;
  for (;;) {
    auto page = store->read_all(at, 1000).value();
    if (page.events.empty()) break;
    for (const auto& e : page.events) logged.insert(to_string(e.position));
    at = page.next;
  }
  INFO(acknowledged.size() << " acknowledged, " << refused << " refused");
  for (const auto& p : acknowledged) CHECK(logged.count(p) == 1);

  // One JSON log line per answered request, with its route, status, latency and the command's outcome.
  std::istringstream err(service.stderr_text());
  int transfer_lines = 0;
  for (std::string line; std::getline(err, line);) {
    auto j = json::parse(line, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());  // every line is JSON
    if (j["msg"] != "request" || j["route"] != "/transfers") continue;
    ++transfer_lines;
    CHECK(j["method"] == "POST");
    CHECK(j.contains("latency_ms"));
    if (j["status"] == 200) {
      CHECK(j["outcome"] == "ok");
      CHECK(j["attempts"] >= 1);
    }
  }
  CHECK(transfer_lines >= static_cast<int>(acknowledged.size()));
}

namespace {
struct CliRun {
  int status = -1;
  std::string out, err;
};

// The eventcore CLI (bounded: 60 s).
CliRun run_cli(const std::vector<std::string>& args) {
  static int counter = 0;
  const std::string base = "/tmp/eventcore-execute-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  std::string command = std::string("timeout 60 ") + EVENTCORE_CLI;
  for (const auto& a : args) command += " '" + a + "'";
  command += " > " + base + ".out 2> " + base + ".err";
  CliRun run;
  const int status = std::system(command.c_str());
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = testing::slurp(base + ".out");
  run.err = testing::slurp(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return run;
}
}  // namespace

TEST_CASE("eventcore execute --connect runs the bank's commands on a service's gateway, over mutual TLS") {
  EVENTCORE_REQUIRE_POSTGRES();
  testing::ScopedSchema schema("service_gateway");
  testing::Pki pki;
  pki.make_ca("ca");
  const auto node = pki.node("service", "ca");
  const auto cli = pki.node("operator", "ca");
  testing::ChildProcess service(EVENTCORE_BANK_SERVICE,
                                {"--listen", "127.0.0.1:0", "--gateway", "127.0.0.1:0", "--database",
                                 testing::test_database_url(), "--schema", schema.name(), "--tls-cert",
                                 node.certificate, "--tls-key", node.key, "--tls-ca", node.ca_file},
                                "command gateway on 127.0.0.1:");
  CHECK(service.stdout_text().find("(mutual TLS)") != std::string::npos);
  const std::vector<std::string> connect{"execute",    "--connect", "127.0.0.1:" + std::to_string(service.port()),
                                         "--tls-cert", cli.certificate, "--tls-key",
                                         cli.key,      "--tls-ca",  cli.ca_file};
  auto with = [&](std::vector<std::string> args) {
    auto all = connect;
    all.insert(all.end(), args.begin(), args.end());
    return run_cli(all);
  };

  auto opened = with({"open-account", "ada", "--owner", "Ada"});
  INFO(opened.err);
  REQUIRE(opened.status == 0);
  CHECK(json::parse(opened.out)["streams"][0]["version"] == 1);
  auto first = with({"deposit", "ada", "700", "--idempotency-key", "op-1"});
  auto again = with({"deposit", "ada", "700", "--idempotency-key", "op-1"});
  REQUIRE(first.status == 0);
  REQUIRE(again.status == 0);
  CHECK(json::parse(first.out)["replayed"] == false);
  CHECK(json::parse(again.out)["replayed"] == true);
  CHECK(json::parse(again.out)["positions"] == json::parse(first.out)["positions"]);

  auto overdraft = with({"withdraw", "ada", "701"});
  CHECK(overdraft.status == 1);
  CHECK(overdraft.err.find("[reason: insufficient_funds]") != std::string::npos);
  auto stale = with({"withdraw", "ada", "1", "--expected-version", "1"});
  CHECK(stale.status == 1);
  CHECK(stale.err.find("version_mismatch") != std::string::npos);

  // Without TLS, or with another CA's certificate: refused, nothing written.
  auto plain = run_cli({"execute", "--connect", "127.0.0.1:" + std::to_string(service.port()), "deposit", "ada", "1"});
  CHECK(plain.status == 1);
  CHECK(plain.err.find("cannot connect to gateway 127.0.0.1:" + std::to_string(service.port())) != std::string::npos);
  pki.make_ca("rogue");
  const auto rogue = pki.node("rogue-operator", "rogue", "ca");
  auto refused = run_cli({"execute", "--connect", "127.0.0.1:" + std::to_string(service.port()), "--tls-cert",
                          rogue.certificate, "--tls-key", rogue.key, "--tls-ca", rogue.ca_file, "deposit", "ada", "1"});
  CHECK(refused.status == 1);
  auto usage = run_cli({"execute", "--connect", "127.0.0.1:" + std::to_string(service.port()), "--tls-cert",
                        cli.certificate, "deposit", "ada", "1"});
  CHECK(usage.status == 2);
  CHECK(usage.err.find("mutual TLS needs all three") != std::string::npos);

  PostgresStoreConfig config;
  config.conninfo = testing::test_database_url();
  config.schema = schema.name();
  auto store = PostgresStore::open(config).value();
  CHECK(store->stream_version(StreamId::try_new("account-ada").value()).value().value == 2);
  CHECK(service.stop(SIGTERM) == 0);
}
