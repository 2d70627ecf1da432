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
