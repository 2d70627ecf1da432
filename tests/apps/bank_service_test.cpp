// The bank service end to end: the real service on a port of its own, a
// real HTTP client, a MemoryStore (and PostgreSQL where it says so).

#include <catch2/catch.hpp>
#include <httplib.h>

#include <atomic>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "eventcore/bank_service/service.hpp"
#include "eventcore/store/memory_store.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "eventcore/testing/forwarding_store.hpp"
#include "eventcore/testing/require_postgres.hpp"
#include "eventcore/testing/test_database.hpp"

using namespace eventcore;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// A MemoryStore whose appends can be held at a gate or made to fail.
class GateStore final : public eventcore::testing::ForwardingStore {
 public:
  Result<AppendResult> append(const AppendRequest& r) override {
    {
      std::unique_lock lock(mutex_);
      ++waiting_;
      changed_.notify_all();
      changed_.wait(lock, [&] { return open_; });
      --waiting_;
      if (failing_) return Error{ErrorCode::unavailable, "the gate store is down"};
    }
    return inner.append(r);
  }
  void close() { set(false, false); }
  void open() { set(true, false); }
  void fail() { set(true, true); }
  bool wait_for_waiter(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return waiting_ > 0; });
  }

 private:
  void set(bool open, bool failing) {
    std::lock_guard lock(mutex_);
    open_ = open;
    failing_ = failing;
    changed_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = true, failing_ = false;
  int waiting_ = 0;
};

struct Service {
  std::shared_ptr<EventStore> store;
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  std::optional<CommandExecutor> executor;
  std::unique_ptr<bank_service::BankService> service;
  std::thread server;
  int port = 0;

  explicit Service(std::shared_ptr<EventStore> s, bank_service::ServiceConfig config = {}) : store(std::move(s)) {
    executor = CommandExecutor::builder().with_system(system).with_store(store).build().value();
    auto created = bank_service::BankService::create(system, store, *executor, config);
    if (!created) FAIL("BankService::create: " << to_string(created.error()));
    service = std::move(created).value();
    port = service->bind("127.0.0.1", 0).value();
    server = std::thread([this] { service->serve(); });
  }
  ~Service() {
    service->stop();
    server.join();
    executor->shutdown();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(10, 0);
    c.set_connection_timeout(5, 0);
    return c;
  }
};

struct Reply {
  int status = 0;
  json body;
  httplib::Headers headers;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

Reply reply(const httplib::Result& r) {
  if (!r) FAIL("no HTTP answer: " << httplib::to_string(r.error()));
  Reply out{r->status, json::parse(r->body, nullptr, false), r->headers};
  if (out.body.is_discarded()) FAIL("the body is not JSON: " << r->body);
  return out;
}

Reply post(const Service& s, const std::string& path, const std::string& body, httplib::Headers headers = {}) {
  auto c = s.client();
  return reply(c.Post(path.c_str(), headers, body, "application/json"));
}

Reply get(const Service& s, const std::string& path) {
  auto c = s.client();
  return reply(c.Get(path.c_str()));
}

std::string code_of(const Reply& r) { return r.body["error"]["code"].get<std::string>(); }

void open_with(const Service& s, const std::string& id, std::int64_t cents) {
  REQUIRE(post(s, "/accounts", json{{"id", id}, {"owner", id}}.dump()).status == 201);
  if (cents > 0)
    REQUIRE(post(s, "/accounts/" + id + "/deposits", json{{"amount_cents", cents}}.dump()).status == 200);
}

}  // namespace

TEST_CASE("the bank service opens accounts, moves money and reads it back from its read model") {
  Service s(std::make_shared<MemoryStore>());
  auto opened = post(s, "/accounts", R"({"id": "ada", "owner": "Ada"})");
  CHECK(opened.status == 201);
  CHECK(opened.body["versions"]["ada"] == 1);
  open_with(s, "bob", 0);
  CHECK(post(s, "/accounts/ada/deposits", R"({"amount_cents": 500})").status == 200);
  auto withdrawn = post(s, "/accounts/ada/withdrawals", R"({"amount_cents": 30})");
  CHECK(withdrawn.status == 200);
  CHECK(withdrawn.body["versions"]["ada"] == 3);
  auto moved = post(s, "/transfers", R"({"from": "ada", "to": "bob", "amount_cents": 120, "reference": "rent"})");
  REQUIRE(moved.status == 200);
  CHECK(moved.body["versions"]["ada"] == 4);
  CHECK(moved.body["versions"]["bob"] == 2);

  // Read your write: wait for the position the transfer committed.
  const std::string at = moved.body["position"].get<std::string>();
  auto ada = get(s, "/accounts/ada?min_position=" + at);
  REQUIRE(ada.status == 200);
  CHECK(ada.body["balance_cents"] == 350);
  CHECK(ada.body["version"] == 4);
  CHECK(ada.body["position"] == at);
  CHECK(ada.header("ETag") == "\"4\"");
  auto bob = get(s, "/accounts/bob?min_position=" + at);
  CHECK(bob.body["balance_cents"] == 120);

  // The stream, paged.
  auto first = get(s, "/accounts/ada/events?limit=3");
  REQUIRE(first.status == 200);
  REQUIRE(first.body["events"].size() == 3);
  CHECK(first.body["events"][0]["type"] == "AccountOpened");
  CHECK(first.body["events"][1]["data"]["cents"] == 500);
  CHECK(first.body["end"] == false);
  CHECK(first.body["next"] == 4);
  auto rest = get(s, "/accounts/ada/events?from=4&limit=3");
  REQUIRE(rest.body["events"].size() == 1);
  CHECK(rest.body["events"][0]["data"]["reference"] == "rent");
  CHECK(rest.body["end"] == true);

  auto health = get(s, "/health");
  CHECK(health.status == 200);
  CHECK(health.body["status"] == "ready");
  CHECK(health.body["projections"][0]["state"] == "running");
}

TEST_CASE("If-Match writes only to the version the client read: a stale ETag is 412 and writes nothing") {
  Service s(std::make_shared<MemoryStore>());
  open_with(s, "ada", 1000);
  auto read = get(s, "/accounts/ada?min_position=" + post(s, "/accounts/ada/deposits", R"({"amount_cents": 1})")
                                                          .body["position"].get<std::string>());
  const std::string etag = read.header("ETag");
  REQUIRE(etag == "\"" + std::to_string(read.body["version"].get<std::uint64_t>()) + "\"");

  auto fresh = post(s, "/accounts/ada/withdrawals", R"({"amount_cents": 10})", {{"If-Match", etag}});
  CHECK(fresh.status == 200);
  // The same ETag again is stale now: refused, nothing written.
  auto stale = post(s, "/accounts/ada/deposits", R"({"amount_cents": 10})", {{"If-Match", etag}});
  CHECK(stale.status == 412);
  CHECK(stale.body["error"]["code"] == "version_mismatch");
  CHECK(stale.body["error"]["message"].get<std::string>().find("not " + etag.substr(1, etag.size() - 2)) !=
        std::string::npos);
  auto events = get(s, "/accounts/ada/events");
  CHECK(events.body["events"].size() == read.body["version"].get<std::uint64_t>() + 1);
  // Weak form and * are accepted; anything else is a bad request.
  const std::string current = "\"" + std::to_string(read.body["version"].get<std::uint64_t>() + 1) + "\"";
  CHECK(post(s, "/accounts/ada/deposits", R"({"amount_cents": 1})", {{"If-Match", "W/" + current}}).status == 200);
  CHECK(post(s, "/accounts/ada/deposits", R"({"amount_cents": 1})", {{"If-Match", "*"}}).status == 200);
  for (const char* bad : {"4", "\"x\"", "\"\"", "\"-1\""}) {
    INFO(bad);
    CHECK(post(s, "/accounts/ada/deposits", R"({"amount_cents": 1})", {{"If-Match", bad}}).status == 400);
  }
}

TEST_CASE("the orders domain over HTTP: approve an order across its order, approver and inventory streams") {
  Service s(std::make_shared<MemoryStore>());
  CHECK(post(s, "/approvers", R"({"id": "bob", "limit_cents": 10000})").status == 201);
  CHECK(post(s, "/inventory/sku-a/stock", R"({"quantity": 5})").status == 200);
  CHECK(post(s, "/inventory/sku-b/stock", R"({"quantity": 1})").status == 200);
  auto placed = post(s, "/orders", R"({"id": "o1", "lines": [{"sku": "sku-a", "quantity": 2, "unit_cents": 1000},
                                                             {"sku": "sku-b", "quantity": 1, "unit_cents": 500}]})");
  REQUIRE(placed.status == 201);
  CHECK(placed.body["versions"]["order-o1"] == 1);

  auto approved = post(s, "/orders/o1/approval", R"({"approver": "bob"})");
  REQUIRE(approved.status == 200);
  // One atomic write over the order, its approver (read, unchanged) and both SKUs it reserved.
  CHECK(approved.body["versions"]["order-o1"] == 2);
  CHECK(approved.body["versions"]["approver-bob"] == 1);
  CHECK(approved.body["versions"]["inventory-sku-a"] == 2);
  CHECK(approved.body["versions"]["inventory-sku-b"] == 2);
  auto events = get(s, "/orders/o1/events");
  REQUIRE(events.status == 200);
  REQUIRE(events.body["events"].size() == 2);
  CHECK(events.body["events"][0]["data"]["lines"][0]["sku"] == "sku-a");
  CHECK(events.body["events"][1]["type"] == "OrderApproved");
  CHECK(events.body["events"][1]["data"]["approver"] == "bob");

  auto again = post(s, "/orders/o1/approval", R"({"approver": "bob"})");
  CHECK(again.status == 409);
  CHECK(again.body["error"]["code"] == "already_approved");
  CHECK(post(s, "/orders/nope/approval", R"({"approver": "bob"})").body["error"]["code"] == "order_not_found");
  CHECK(post(s, "/orders/nope/approval", R"({"approver": "bob"})").status == 404);
  REQUIRE(post(s, "/orders", R"({"id": "o2", "lines": [{"sku": "sku-b", "quantity": 1, "unit_cents": 500}]})").status == 201);
  auto no_stock = post(s, "/orders/o2/approval", R"({"approver": "bob"})");
  CHECK(no_stock.status == 409);
  CHECK(no_stock.body["error"]["code"] == "insufficient_stock");
  CHECK(post(s, "/orders/o2/approval", R"({"approver": "eve"})").status == 404);
  REQUIRE(post(s, "/orders", R"({"id": "o3", "lines": [{"sku": "sku-a", "quantity": 3, "unit_cents": 9000}]})").status == 201);
  CHECK(post(s, "/orders/o3/approval", R"({"approver": "bob"})").body["error"]["code"] == "over_limit");
  CHECK(post(s, "/orders", R"({"id": "o1", "lines": [{"sku": "a", "quantity": 1, "unit_cents": 1}]})").status == 409);
  CHECK(get(s, "/orders/o9/events").status == 404);

  // Bad input: 400 for a wrong type, 422 for a missing or invalid field.
  CHECK(post(s, "/orders", R"({"id": "o4", "lines": "many"})").status == 400);
  CHECK(post(s, "/orders", R"({"id": "o4", "lines": []})").status == 422);
  CHECK(post(s, "/orders", R"({"id": "o4", "lines": [{"sku": "a", "quantity": 0, "unit_cents": 1}]})").status == 422);
  CHECK(post(s, "/orders", R"({"id": "o4", "lines": [{"sku": "a", "quantity": 1}]})").status == 422);
  CHECK(post(s, "/orders", R"({"id": "o/4", "lines": [{"sku": "a", "quantity": 1, "unit_cents": 1}]})").status == 422);
  CHECK(post(s, "/approvers", R"({"id": "amy", "limit_cents": -1})").status == 422);
  CHECK(post(s, "/inventory/sku-a/stock", R"({"quantity": "5"})").status == 400);
}

TEST_CASE("the bank service answers every kind of bad request with its status and one error body") {
  bank_service::ServiceConfig config;
  config.max_body_bytes = 1024;
  Service s(std::make_shared<MemoryStore>(), config);
  open_with(s, "ada", 100);
  open_with(s, "bob", 0);
  struct Case {
    std::string method, path, body, content_type;
    int status;
    std::string code;
  };
  const std::vector<Case> cases{
      {"POST", "/transfers", R"({"from": "ada", "to": )", "application/json", 400, "malformed_json"},
      {"POST", "/transfers", R"([1, 2])", "application/json", 400, "malformed_json"},
      {"POST", "/transfers", R"({"from": "ada", "to": "bob", "amount_cents": "5"})", "application/json", 400,
       "wrong_type"},
      {"POST", "/transfers", R"({"from": 7, "to": "bob", "amount_cents": 5})", "application/json", 400, "wrong_type"},
      {"POST", "/transfers", R"({"from": "ada", "amount_cents": 5})", "application/json", 422, "missing_field"},
      {"POST", "/transfers", R"({"from": "ada", "to": "bob", "amount_cents": -5})", "application/json", 422,
       "invalid_field"},
      {"POST", "/transfers", R"({"from": "ada", "to": "b o b", "amount_cents": 5})", "application/json", 422,
       "invalid_field"},
      {"POST", "/transfers", R"({"from": "ada", "to": "ada", "amount_cents": 5})", "application/json", 422,
       "same_account"},
      {"POST", "/accounts/ada/deposits", R"({"amount_cents": 0})", "application/json", 422, "invalid_amount"},
      {"POST", "/transfers", R"({"from": "ada", "to": "zed", "amount_cents": 5})", "application/json", 404,
       "account_not_found"},
      {"POST", "/accounts/zed/deposits", R"({"amount_cents": 5})", "application/json", 404, "account_not_found"},
      {"POST", "/transfers", R"({"from": "ada", "to": "bob", "amount_cents": 500})", "application/json", 409,
       "insufficient_funds"},
      {"POST", "/accounts", R"({"id": "ada"})", "application/json", 409, "account_exists"},
      {"POST", "/transfers", R"(from=ada)", "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
      {"POST", "/transfers", std::string(2000, ' '), "application/json", 413, "payload_too_large"},
      {"GET", "/accounts/zed", "", "", 404, "account_not_found"},
      {"GET", "/accounts/ada?min_position=yesterday", "", "", 400, "wrong_type"},
      {"GET", "/accounts/ada/events?limit=0", "", "", 422, "invalid_field"},
      {"GET", "/accounts/ada/events?limit=many", "", "", 400, "wrong_type"},
      {"GET", "/no/such/route", "", "", 404, "not_found"},
  };
  auto c = s.client();
  for (const auto& k : cases) {
    INFO(k.method << " " << k.path << " " << k.body.substr(0, 60));
    auto r = k.method == "GET" ? reply(c.Get(k.path.c_str()))
                               : reply(c.Post(k.path.c_str(), k.body, k.content_type.c_str()));
    CHECK(r.status == k.status);
    CHECK(code_of(r) == k.code);
    CHECK_FALSE(r.body["error"]["message"].get<std::string>().empty());
  }
  // Nothing above wrote anything: ada has her opening and her deposit.
  CHECK(get(s, "/accounts/ada/events").body["events"].size() == 2);
}

TEST_CASE("an Idempotency-Key replays the first answer and writes nothing, refuses another body, and refuses a "
          "second request while the first runs") {
  auto store = std::make_shared<GateStore>();
  Service s(store);
  open_with(s, "ada", 100);
  open_with(s, "bob", 0);
  const std::string body = R"({"from": "ada", "to": "bob", "amount_cents": 40})";
  auto first = post(s, "/transfers", body, {{"Idempotency-Key", "t-1"}});
  REQUIRE(first.status == 200);
  auto again = post(s, "/transfers", body, {{"Idempotency-Key", "t-1"}});
  CHECK(again.status == 200);
  CHECK(again.body == first.body);
  CHECK(again.header("Idempotency-Replayed") == "true");
  CHECK(first.header("Idempotency-Replayed").empty());
  CHECK(get(s, "/accounts/bob/events").body["events"].size() == 2);  // opened, one deposit

  auto other = post(s, "/transfers", R"({"from": "ada", "to": "bob", "amount_cents": 41})", {{"Idempotency-Key", "t-1"}});
  CHECK(other.status == 422);
  CHECK(code_of(other) == "idempotency_key_reused");

  // A request held in the store, and a second one with its key.
  store->close();
  std::optional<Reply> held;
  std::thread slow([&] { held = post(s, "/transfers", body, {{"Idempotency-Key", "t-2"}}); });
  REQUIRE(store->wait_for_waiter(5s));
  auto concurrent = post(s, "/transfers", body, {{"Idempotency-Key", "t-2"}});
  CHECK(concurrent.status == 409);
  CHECK(code_of(concurrent) == "request_in_progress");
  store->open();
  slow.join();
  REQUIRE(held);
  CHECK(held->status == 200);
  CHECK(get(s, "/accounts/bob/events").body["events"].size() == 3);
}

TEST_CASE("a store that is down answers 503 with Retry-After, and health says not ready") {
  auto store = std::make_shared<GateStore>();
  Service s(store);
  open_with(s, "ada", 100);
  store->fail();
  auto r = post(s, "/accounts/ada/deposits", R"({"amount_cents": 5})");
  CHECK(r.status == 503);
  CHECK(code_of(r) == "store_unavailable");
  CHECK(r.header("Retry-After") == "1");
  store->open();
  CHECK(post(s, "/accounts/ada/deposits", R"({"amount_cents": 5})").status == 200);
}

TEST_CASE("concurrent transfers over HTTP from many clients conserve money and keep every stream contiguous") {
  auto store = std::make_shared<MemoryStore>();
  Service s(store);
  constexpr int accounts = 6, threads = 8, per_thread = 40;
  for (int i = 0; i < accounts; ++i) open_with(s, "a" + std::to_string(i), 1000);
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t)
    clients.emplace_back([&, t] {
      auto c = s.client();
      for (int n = 0; n < per_thread; ++n) {
        const int from = (t + n) % accounts, to = (t + 2 * n + 1) % accounts;
        if (from == to) continue;
        json body{{"from", "a" + std::to_string(from)}, {"to", "a" + std::to_string(to)}, {"amount_cents", 37 + n}};
        auto r = c.Post("/transfers", body.dump(), "application/json");
        if (r && r->status == 200) ++ok;
        else if (r && r->status == 409) ++refused;
        else ++other;
      }
    });
  for (auto& c : clients) c.join();
  CHECK(other == 0);
  CHECK(ok > 0);
  // Every stream 1, 2, 3...; the balances folded from the log sum to what was deposited.
  std::int64_t total = 0;
  GlobalPosition last;
  for (int i = 0; i < accounts; ++i) {
    const std::string id = "a" + std::to_string(i);
    auto page = store->read_stream(StreamId::try_new("account-" + id).value(), StreamVersion{1}, 10'000).value();
    for (std::size_t k = 0; k < page.size(); ++k) CHECK(page[k].version.value == k + 1);
    last = std::max(last, page.back().position);
  }
  for (int i = 0; i < accounts; ++i) {
    auto r = get(s, "/accounts/a" + std::to_string(i) + "?min_position=" + to_string(last));
    REQUIRE(r.status == 200);
    total += r.body["balance_cents"].get<std::int64_t>();
  }
  CHECK(total == accounts * 1000);
}

TEST_CASE("stopping the service under load answers every request it accepted in full, and loses no "
          "acknowledged transfer") {
  auto store = std::make_shared<MemoryStore>();
  auto s = std::make_unique<Service>(store);
  open_with(*s, "a", 1'000'000);
  open_with(*s, "b", 1'000'000);
  std::atomic<bool> stop{false};
  std::mutex m;
  std::vector<std::string> acknowledged;  // positions answered 200
  std::atomic<int> torn{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t)
    clients.emplace_back([&, t] {
      auto c = s->client();
      c.set_read_timeout(5, 0);
      for (int n = 0; !stop; ++n) {
        json body{{"from", t % 2 ? "a" : "b"}, {"to", t % 2 ? "b" : "a"}, {"amount_cents", 1}};
        auto r = c.Post("/transfers", body.dump(), "application/json");
        if (!r) continue;  // refused or cut before an answer: never acknowledged
        auto parsed = json::parse(r->body, nullptr, false);
        if (parsed.is_discarded()) ++torn;
        else if (r->status == 200) {
          std::lock_guard lock(m);
          acknowledged.push_back(parsed["position"].get<std::string>());
        }
      }
    });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {  // until the load is well under way
    {
      std::lock_guard lock(m);
      if (acknowledged.size() >= 50 || std::chrono::steady_clock::now() > deadline) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  s->service->stop();
  stop = true;
  for (auto& c : clients) c.join();
  CHECK(torn == 0);
  CHECK(acknowledged.size() > 0);
  // Every acknowledged transfer is in the log at the position it was told.
  std::set<std::string> logged;
  GlobalPosition at;
  for (;;) {
    auto page = store->read_all(at, 10'000).value();
    if (page.events.empty()) break;
    for (const auto& e : page.events) logged.insert(to_string(e.position));
    at = page.next;
  }
  for (const auto& p : acknowledged) CHECK(logged.count(p) == 1);
  s.reset();
}

namespace {
// The value of the sample `name{labels}` in a Prometheus text exposition, or
// -1; fails the test on a line that is not the text format.
double sample(const std::string& exposition, const std::string& series) {
  static const std::regex line(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eEinfINFaN]+$)");
  double found = -1;
  std::istringstream in(exposition);
  for (std::string l; std::getline(in, l);) {
    if (l.empty() || l.rfind("# HELP ", 0) == 0 || l.rfind("# TYPE ", 0) == 0) continue;
    if (!std::regex_match(l, line)) FAIL("not Prometheus text: " << l);
    const auto space = l.rfind(' ');
    if (l.substr(0, space) == series) found = std::stod(l.substr(space + 1));
  }
  return found;
}
}  // namespace

TEST_CASE("the bank service on PostgreSQL: a transfer, read back from the read model at its position") {
  EVENTCORE_REQUIRE_POSTGRES();
  testing::ScopedSchema schema("bank_service");
  PostgresStoreConfig config;
  config.conninfo = testing::test_database_url();
  config.schema = schema.name();
  config.pool_size = 4;
  std::shared_ptr<EventStore> store = PostgresStore::open(config).value();
  Service s(store);
  open_with(s, "ada", 500);
  open_with(s, "bob", 0);
  auto moved = post(s, "/transfers", R"({"from": "ada", "to": "bob", "amount_cents": 200})", {{"Idempotency-Key", "pg-1"}});
  REQUIRE(moved.status == 200);
  auto replay = post(s, "/transfers", R"({"from": "ada", "to": "bob", "amount_cents": 200})", {{"Idempotency-Key", "pg-1"}});
  CHECK(replay.body == moved.body);
  auto bob = get(s, "/accounts/bob?min_position=" + moved.body["position"].get<std::string>());
  REQUIRE(bob.status == 200);
  CHECK(bob.body["balance_cents"] == 200);
  CHECK(get(s, "/health").status == 200);

  // On PostgreSQL, /metrics shows the connection pool too.
  auto c = s.client();
  auto r = c.Get("/metrics");
  REQUIRE(r);
  CHECK(sample(r->body, R"(eventcore_pool_connections{state="size"})") == 4);
  const double in_use = sample(r->body, R"(eventcore_pool_connections{state="in_use"})");
  CHECK(in_use >= 0);
  CHECK(in_use <= 4);
  CHECK(sample(r->body, "eventcore_pool_waits_total") >= 0);
  CHECK(sample(r->body, R"(eventcore_commands_total{type="TransferMoney",outcome="ok"})") == 1);
}

TEST_CASE("/metrics is Prometheus text, and its counters move with the requests") {
  Service s(std::make_shared<MemoryStore>());
  open_with(s, "ada", 100);
  open_with(s, "bob", 0);
  auto c = s.client();
  auto scrape = [&] {
    auto r = c.Get("/metrics");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    CHECK(r->get_header_value("Content-Type").rfind("text/plain", 0) == 0);
    return r->body;
  };
  const std::string transfers_ok = R"(eventcore_http_requests_total{method="POST",route="/transfers",status="200"})";
  const std::string transfers_409 = R"(eventcore_http_requests_total{method="POST",route="/transfers",status="409"})";
  const auto before = scrape();
  CHECK(sample(before, transfers_ok) == -1);
  REQUIRE(post(s, "/transfers", R"({"from": "ada", "to": "bob", "amount_cents": 10})").status == 200);
  REQUIRE(post(s, "/transfers", R"({"from": "ada", "to": "bob", "amount_cents": 10})").status == 200);
  REQUIRE(post(s, "/transfers", R"({"from": "bob", "to": "ada", "amount_cents": 999})").status == 409);
  REQUIRE(get(s, "/no/route").status == 404);
  const auto after = scrape();
  CHECK(sample(after, transfers_ok) == 2);
  CHECK(sample(after, transfers_409) == 1);
  CHECK(sample(after, R"(eventcore_http_requests_total{method="GET",route="unmatched",status="404"})") == 1);
  CHECK(sample(after, R"(eventcore_http_request_duration_seconds_count{route="/transfers"})") == 3);
  CHECK(sample(after, R"(eventcore_commands_total{type="TransferMoney",outcome="ok"})") == 2);
  CHECK(sample(after, R"(eventcore_projection_running{projection="balances"})") == 1);
  CHECK(sample(after, R"(eventcore_projection_held_back_events{projection="balances"})") == 0);
}
