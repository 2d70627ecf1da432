// Three bank-service nodes on one PostgreSQL behind haproxy (the
// configuration scripts/cluster.sh runs). Concurrent transfers go through
// haproxy while one node is killed with SIGKILL: every acknowledged transfer
// is in the store exactly once, every refused one not at all, money is
// conserved, versions are contiguous, and the survivors keep serving.

#include <sys/socket.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>
#include <httplib.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "eventcore/store/postgres_store.hpp"
#include "eventcore/testing/child_process.hpp"
#include "eventcore/testing/require_postgres.hpp"
#include "eventcore/testing/test_database.hpp"
#include "support/bank_audit.hpp"

using namespace eventcore;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// A port nothing listens on now (the OS's pick of a free one).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t size = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  ::close(fd);
  return ntohs(addr.sin_port);
}

enum class Outcome { acknowledged, refused, unknown };

struct Transfer {
  int from = 0, to = 0;
  std::int64_t cents = 0;
  Outcome outcome = Outcome::unknown;
  bool after_kill = false;
};

}  // namespace

TEST_CASE("a 3-node cluster behind haproxy: a node killed mid-run loses and doubles nothing, and the others "
          "keep serving") {
  EVENTCORE_REQUIRE_POSTGRES();
  if (std::string(EVENTCORE_HAPROXY).empty()) testing::skip_test("needs haproxy (apt-get install haproxy)");
  testing::ScopedSchema schema("cluster");
  const std::vector<std::string> node_args{"--listen", "127.0.0.1:0", "--database", testing::test_database_url(),
                                           "--schema", schema.name(), "--log-level", "warn"};
  std::vector<std::unique_ptr<testing::ChildProcess>> nodes;
  std::string backends;
  for (int i = 0; i < 3; ++i) {
    nodes.push_back(std::make_unique<testing::ChildProcess>(EVENTCORE_BANK_SERVICE, node_args,
                                                            "listening on http://127.0.0.1:"));
    backends += " 127.0.0.1:" + std::to_string(nodes.back()->port());
  }
  const int front = free_port();
  const std::string config = "/tmp/eventcore-cluster-" + std::to_string(::getpid()) + ".cfg";
  REQUIRE(std::system((std::string(EVENTCORE_SOURCE_DIR) + "/scripts/lib/haproxy_config.sh 127.0.0.1:" +
                       std::to_string(front) + backends + " > " + config)
                          .c_str()) == 0);
  testing::ChildProcess haproxy(EVENTCORE_HAPROXY, {"-f", config, "-db"}, "");
  httplib::Client probe("127.0.0.1", front);
  probe.set_connection_timeout(1, 0);
  bool ready = false;
  for (int i = 0; i < 100 && !ready; ++i) {
    auto health = probe.Get("/health");
    ready = health && health->status == 200;
    if (!ready) std::this_thread::sleep_for(100ms);
  }
  INFO(haproxy.stderr_text());
  REQUIRE(ready);

  constexpr int accounts = 16;
  constexpr std::int64_t opening = 100'000;
  for (int a = 0; a < accounts; ++a) {
    const std::string id = "c" + std::to_string(a);
    REQUIRE(probe.Post("/accounts", json{{"id", id}}.dump(), "application/json")->status == 201);
    REQUIRE(probe.Post("/accounts/" + id + "/deposits", json{{"amount_cents", opening}}.dump(), "application/json")
                ->status == 200);
  }

  // Clients: each transfer under its own key (also its reference), retried
  // with that key after a 502/503 or a lost connection, until it is
  // acknowledged (200) or refused (409/422), at most 20 times.
  std::mutex mutex;
  std::map<std::string, Transfer> transfers;
  std::atomic<bool> stop{false}, killed{false};
  std::atomic<int> retries{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t)
    clients.emplace_back([&, t] {
      httplib::Client http("127.0.0.1", front);
      http.set_read_timeout(30, 0);
      http.set_connection_timeout(2, 0);
      std::mt19937 random(static_cast<unsigned>(t));
      for (int n = 0; !stop; ++n) {
        Transfer transfer;
        transfer.from = static_cast<int>(random() % accounts);
        transfer.to = (transfer.from + 1 + static_cast<int>(random() % (accounts - 1))) % accounts;
        transfer.cents = 1 + static_cast<std::int64_t>(random() % 20'000);
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(n);
        const auto body = json{{"from", "c" + std::to_string(transfer.from)},
                               {"to", "c" + std::to_string(transfer.to)},
                               {"amount_cents", transfer.cents},
                               {"reference", key}}
                              .dump();
        for (int attempt = 0; attempt < 20 && transfer.outcome == Outcome::unknown; ++attempt) {
          if (attempt > 0) {
            ++retries;
            std::this_thread::sleep_for(50ms);
          }
          auto answer = http.Post("/transfers", {{"Idempotency-Key", key}}, body, "application/json");
          if (!answer) continue;  // the connection broke: retry
          if (answer->status == 200) transfer.outcome = Outcome::acknowledged;
          else if (answer->status == 409 || answer->status == 422) transfer.outcome = Outcome::refused;
        }
        transfer.after_kill = killed;
        std::lock_guard lock(mutex);
        transfers.emplace(key, transfer);
      }
    });

  auto acknowledged = [&](bool after_kill) {
    std::lock_guard lock(mutex);
    int n = 0;
    for (const auto& [key, t] : transfers) n += t.outcome == Outcome::acknowledged && t.after_kill == after_kill;
    return n;
  };
  // Load, then kill node 2 mid-run, then load on the survivors (bounded waits).
  for (int i = 0; i < 100 && acknowledged(false) < 150; ++i) std::this_thread::sleep_for(50ms);
  nodes[1]->signal(SIGKILL);
  killed = true;
  for (int i = 0; i < 200 && acknowledged(true) < 150; ++i) std::this_thread::sleep_for(50ms);
  stop = true;
  for (auto& c : clients) c.join();

  const int after = acknowledged(true);
  INFO("acknowledged before the kill " << acknowledged(false) << ", after " << after << ", retries " << retries);
  INFO("acknowledged before the kill " << acknowledged(false) << ", after " << after << ", retries " << retries);
  CHECK(acknowledged(false) >= 150);
  CHECK(after >= 150);  // the survivors kept serving

  PostgresStoreConfig store_config;
  store_config.conninfo = testing::test_database_url();
  store_config.schema = schema.name();
  auto store = PostgresStore::open(store_config).value();
  std::vector<bank::AccountId> ids;
  for (int a = 0; a < accounts; ++a) ids.push_back(bank::AccountId::try_new("c" + std::to_string(a)).value());
  const auto audit = testing::audit_accounts(*store, ids);  // versions contiguous, never overdrawn
  CHECK(audit.total == accounts * opening);                 // money conserved
  int unknown = 0;
  for (const auto& [key, t] : transfers) {
    const auto it = audit.events_per_reference.find(key);
    const int events = it == audit.events_per_reference.end() ? 0 : it->second;
    INFO("transfer " << key);
    if (t.outcome == Outcome::acknowledged) CHECK(events == 2);  // written exactly once
    if (t.outcome == Outcome::refused) CHECK(events == 0);
    if (t.outcome == Outcome::unknown) {
      ++unknown;
      CHECK((events == 0 || events == 2));  // never twice
    }
  }
  CHECK(unknown == 0);  // every transfer got a definite answer through the survivors
  std::remove(config.c_str());
}
