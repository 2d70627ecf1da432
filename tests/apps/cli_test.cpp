// The eventcore CLI end to end: the real binary against a real PostgreSQL,
// each case in a schema of its own.

#include <sys/wait.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "eventcore/store/postgres_store.hpp"
#include "eventcore/testing/require_postgres.hpp"
#include "eventcore/testing/test_database.hpp"

using namespace eventcore;
using namespace eventcore::testing;
using nlohmann::json;

namespace {

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

struct Run {
  int status = -1;
  std::string out, err;
};

// Runs the CLI (bounded: 60 s) with `input` on stdin.
Run run_cli(const std::string& database, const std::vector<std::string>& args, const std::string& input = "") {
  static int counter = 0;
  const std::string base = "/tmp/eventcore-cli-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  std::ofstream(base + ".in") << input;
  std::string command = "timeout 60 " + quote(EVENTCORE_CLI);
  if (!database.empty()) command += " --database " + quote(database);
  for (const auto& a : args) command += " " + quote(a);
  command += " < " + base + ".in > " + base + ".out 2> " + base + ".err";
  const int raw = std::system(command.c_str());
  Run run{WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(base + ".out"), slurp(base + ".err")};
  for (const char* ext : {".in", ".out", ".err"}) std::remove((base + ext).c_str());
  INFO("eventcore " << command << "\nstdout: " << run.out << "\nstderr: " << run.err);
  return run;
}

struct Fixture {
  ScopedSchema schema{"cli"};
  std::string url = test_database_url();
  std::vector<std::string> with(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--schema", schema.name()});
    return args;
  }
  Run cli(std::vector<std::string> args, const std::string& input = "") const {
    return run_cli(url, with(std::move(args)), input);
  }
  std::unique_ptr<PostgresStore> open() const {
    PostgresStoreConfig config;
    config.conninfo = url;
    config.schema = schema.name();
    config.pool_size = 2;
    auto store = PostgresStore::open(config);
    REQUIRE(store.ok());
    return std::move(store).value();
  }
};

const std::string three_events =
    R"({"type": "AccountOpened", "data": {"account": "ada", "owner": "Ada"}})"
    "\n"
    R"({"type": "MoneyDeposited", "data": {"account": "ada", "cents": 500, "reference": "salary"}, "user_id": "ops"})"
    "\n\n"
    R"({"type": "LegacyThing", "payload_base64": "AAEC/w=="})"
    "\n";

}  // namespace

TEST_CASE("eventcore append writes JSON lines atomically and read shows them back as JSON", "[cli]") {
  EVENTCORE_REQUIRE_POSTGRES();
  Fixture f;
  auto appended = f.cli({"append", "account-ada", "--expected-version", "no-stream"}, three_events);
  INFO(appended.err);
  REQUIRE(appended.status == 0);
  const auto result = json_lines(appended.out).at(0);
  CHECK(result["version"] == 3);
  CHECK(result["positions"].size() == 3);

  auto read = f.cli({"read", "account-ada"});
  REQUIRE(read.status == 0);
  const auto events = json_lines(read.out);
  REQUIRE(events.size() == 3);
  CHECK(events[0]["stream"] == "account-ada");
  CHECK(events[0]["version"] == 1);
  CHECK(events[0]["data"] == json{{"account", "ada"}, {"owner", "Ada"}});
  CHECK(events[1]["data"]["cents"] == 500);
  CHECK(events[1]["user_id"] == "ops");
  // A type this binary does not know: its type name and bytes, never a crash.
  CHECK(events[2]["type"] == "LegacyThing");
  CHECK(events[2]["payload_base64"] == "AAEC/w==");
  CHECK_FALSE(events[2].contains("data"));
  CHECK(events[2]["position"] == result["positions"][2]);

  auto from_two = f.cli({"read", "account-ada", "--from", "2", "--limit", "1"});
  REQUIRE(json_lines(from_two.out).size() == 1);
  CHECK(json_lines(from_two.out)[0]["version"] == 2);

  REQUIRE(f.cli({"append", "order-1", "--expected-version", "any"},
                R"({"type": "OrderApproved", "data": {"order": "1", "approver": "bob"}})")
              .status == 0);
  auto all = f.cli({"read", "--all"});
  REQUIRE(json_lines(all.out).size() == 4);
  auto deposits = f.cli({"read", "--all", "--type", "MoneyDeposited"});
  REQUIRE(json_lines(deposits.out).size() == 1);
  auto orders = f.cli({"read", "--all", "--prefix", "order-", "--from", "0:0"});
  REQUIRE(json_lines(orders.out).size() == 1);
  CHECK(json_lines(orders.out)[0]["data"]["approver"] == "bob");

  auto streams = f.cli({"streams"});
  REQUIRE(streams.status == 0);
  CHECK(json_lines(streams.out) ==
        std::vector<json>{json{{"stream", "account-ada"}, {"version", 3}}, json{{"stream", "order-1"}, {"version", 1}}});
  auto paged = f.cli({"streams", "--limit", "1"});
  CHECK(json_lines(paged.out).size() == 1);
  CHECK(paged.err.find("--after 'account-ada'") != std::string::npos);

  auto stats = f.cli({"stats"});
  REQUIRE(stats.status == 0);
  const auto s = json_lines(stats.out).at(0);
  CHECK(s["streams"] == 2);
  CHECK(s["events"] == 4);
  CHECK(s["bytes"] > 0);
}

TEST_CASE("eventcore append with a stale expected version exits 1, says why, and writes nothing", "[cli]") {
  EVENTCORE_REQUIRE_POSTGRES();
  Fixture f;
  REQUIRE(f.cli({"append", "account-ada", "--expected-version", "no-stream"}, three_events).status == 0);
  auto stale = f.cli({"append", "account-ada", "--expected-version", "1"},
                     R"({"type": "MoneyDeposited", "data": {"account": "ada", "cents": 1, "reference": ""}})");
  CHECK(stale.status == 1);
  CHECK(stale.err.find("account-ada") != std::string::npos);
  CHECK(stale.err.find("version 3") != std::string::npos);
  CHECK(stale.err.find("expected version 1") != std::string::npos);
  CHECK(json_lines(f.cli({"read", "account-ada"}).out).size() == 3);

  // A bad line names itself, and nothing of the batch is written.
  auto bad = f.cli({"append", "account-ada", "--expected-version", "3"},
                   R"({"type": "MoneyDeposited", "data": {"account": "ada", "cents": 1, "reference": ""}})"
                   "\n"
                   R"({"type": "MoneyDeposited", "data": {"account": "ada", "cents": "lots", "reference": ""}})");
  CHECK(bad.status == 1);
  CHECK(bad.err.find("stdin line 2") != std::string::npos);
  CHECK(json_lines(f.cli({"read", "account-ada"}).out).size() == 3);
  auto unknown = f.cli({"append", "x-1", "--expected-version", "any"}, R"({"type": "Nope", "data": {}})");
  CHECK(unknown.status == 1);
  CHECK(unknown.err.find("payload_base64") != std::string::npos);
}

TEST_CASE("eventcore usage errors exit 2, and an unreachable database exits 1 without its password", "[cli]") {
  EVENTCORE_REQUIRE_POSTGRES();
  Fixture f;
  CHECK(f.cli({}).status == 2);
  CHECK(f.cli({"read"}).status == 2);
  CHECK(f.cli({"read", "--all", "--from", "12"}).status == 2);
  CHECK(f.cli({"read", "s-1", "--from", "-3"}).status == 2);
  CHECK(f.cli({"append", "s-1"}).status == 2);  // no --expected-version
  CHECK(f.cli({"streams", "--limit", "0"}).status == 2);
  auto help = f.cli({"--help"});
  CHECK(help.status == 0);
  CHECK(help.out.find("rebuild") != std::string::npos);
  auto down = run_cli("postgresql://ops:hunter2@127.0.0.1:1/x?connect_timeout=2", {"stats"});
  CHECK(down.status == 1);
  CHECK(down.err.find("eventcore stats: cannot open the store") != std::string::npos);
  CHECK(down.err.find("hunter2") == std::string::npos);
}

TEST_CASE("eventcore tail prints an event committed after it started", "[cli]") {
  EVENTCORE_REQUIRE_POSTGRES();
  Fixture f;
  auto store = f.open();
  REQUIRE(f.cli({"append", "account-ada", "--expected-version", "no-stream"}, three_events).status == 0);
  const auto head = store->totals().value().head;
  std::string command = "timeout 60 " + quote(EVENTCORE_CLI) + " --database " + quote(f.url) + " --schema " +
                        f.schema.name() + " tail --from " + to_string(head) + " --count 1 --timeout-ms 30000 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  // Its first line says it follows; then the event appended below.
  REQUIRE(std::fgets(buffer, sizeof buffer, pipe) != nullptr);
  CHECK(std::string(buffer).find("following the log after " + to_string(head)) != std::string::npos);
  REQUIRE(f.cli({"append", "account-bob", "--expected-version", "no-stream"},
                R"({"type": "AccountOpened", "data": {"account": "bob", "owner": "Bob"}})")
              .status == 0);
  REQUIRE(std::fgets(buffer, sizeof buffer, pipe) != nullptr);
  const auto event = json::parse(buffer);
  CHECK(event["stream"] == "account-bob");
  CHECK(event["data"]["owner"] == "Bob");
  const int status = ::pclose(pipe);
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("eventcore rebuild folds the whole log into a fresh read model with a progress line", "[cli]") {
  EVENTCORE_REQUIRE_POSTGRES();
  Fixture f;
  auto store = f.open();
  constexpr int events = 3000;
  for (int batch = 0; batch < events / 500; ++batch) {
    StreamWrite write{StreamId::try_new("load-" + std::to_string(batch)).value(), ExpectedVersion::any(), {}};
    for (int i = 0; i < 500; ++i) write.events.push_back({EventId::generate(), i % 3 ? "Tick" : "Tock", {}, {}});
    REQUIRE(store->append(AppendRequest{{std::move(write)}}).ok());
  }
  auto rebuilt = f.cli({"rebuild", "event_counts"});
  INFO(rebuilt.err);
  REQUIRE(rebuilt.status == 0);
  CHECK(rebuilt.err.find("rebuild event_counts [####################] 100%") != std::string::npos);
  CHECK(rebuilt.err.find("3,000/3,000 events") != std::string::npos);
  const auto done = json_lines(rebuilt.out).at(0);
  CHECK(done["rebuilt"] == true);
  CHECK(done["events"] == events);
  CHECK(exec_sql("SELECT sum(n) FROM " + f.schema.name() + ".event_counts") == "3000");
  CHECK(exec_sql("SELECT n FROM " + f.schema.name() + ".event_counts WHERE event_type = 'Tock'") == "1002");  // 167 of every 500

  auto listed = f.cli({"projections"});
  REQUIRE(listed.status == 0);
  const auto projections = json_lines(listed.out);
  REQUIRE(projections.size() == 1);
  CHECK(projections[0]["name"] == "event_counts");
  CHECK(projections[0]["position"] == to_string(store->totals().value().head));
  CHECK(projections[0]["events_after"] == 0);
  CHECK(f.cli({"rebuild", "no_such_projection"}).status == 1);
}
