// Two worker processes for one projection: kill -9 the active one mid-stream;
// the standby takes over and the PostgreSQL read model stays exactly-once.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "projection_test_support.hpp"

using namespace eventcore;
using namespace eventcore::testing;

namespace {

// A child process running the worker binary; killed (SIGKILL) if still alive at scope exit.
class Worker {
 public:
  explicit Worker(const std::vector<std::string>& args) {
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      std::string path = EVENTCORE_PROJECTION_WORKER;
      argv.push_back(path.data());
      std::vector<std::string> copy = args;
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      std::freopen("/dev/null", "w", stdout);
      ::execv(path.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~Worker() { kill(SIGKILL); }
  pid_t pid() const { return pid_; }
  void kill(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    for (int i = 0; i < 500 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(10ms);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

std::string owner_pid(const Fixture& f) {
  std::string owner;
  try {
    owner = exec_sql("SELECT owner FROM " + f.table("projection_checkpoints") + " WHERE name = 'event_copy'");
  } catch (const std::exception&) {
    return {};
  }
  const auto colon = owner.rfind(':');
  return colon == std::string::npos ? std::string() : owner.substr(colon + 1);
}

std::int64_t copied(const Fixture& f) {
  try {
    return sql_int("SELECT count(*) FROM " + f.table("event_copy"));
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

TEST_CASE("when the active worker is killed the standby takes over and the read model stays exactly-once") {
  EVENTCORE_REQUIRE_POSTGRES();
  Fixture f("proj_worker");
  const std::vector<std::string> args{"--database", test_database_url(), "--schema", f.schema.name(),
                                      "--channel", f.channel, "--projection", "event_copy",
                                      "--page-size", "50", "--apply-delay-us", "300",
                                      "--standby-ms", "100", "--poll-ms", "500"};
  for (int i = 0; i < 500; ++i) REQUIRE(f.store->append(one_event("pre-" + std::to_string(i % 7))).ok());
  Worker a(args);
  REQUIRE(wait_until([&] { return owner_pid(f) == std::to_string(a.pid()); }, 10s));
  Worker b(args);
  std::this_thread::sleep_for(300ms);  // b is a standby by now
  CHECK(owner_pid(f) == std::to_string(a.pid()));
  {
    Writers writers(f.store, 2, 2ms);
    REQUIRE(wait_until([&] { return copied(f) > 300; }, 10s));
    const auto before = copied(f);
    a.kill(SIGKILL);  // mid-stream: a page transaction is almost certainly open
    INFO("rows copied when the active worker was killed: " << before);
    REQUIRE(wait_until([&] { return owner_pid(f) == std::to_string(b.pid()); }, 10s));
    std::this_thread::sleep_for(500ms);
  }
  REQUIRE(wait_until([&] { return check_copy(f).exact(); }, 30s));
  const auto c = check_copy(f);
  CHECK(c.copied == c.log);
  CHECK(c.distinct == c.log);
  CHECK(c.missing == 0);
  b.kill(SIGTERM);
}

TEST_CASE("a worker reading the log from a hot standby keeps its read model exactly-once on the primary") {
  EVENTCORE_REQUIRE_POSTGRES();
  const auto replica = test_replica_url();
  Fixture f("proj_replica");
  Worker worker({"--database", test_database_url(), "--replica", replica, "--schema", f.schema.name(), "--channel",
                 f.channel, "--projection", "event_copy", "--page-size", "50", "--poll-ms", "500"});
  {
    Writers writers(f.store, 2, 2ms);
    REQUIRE(wait_until([&] { return copied(f) > 300; }, 20s));
  }
  REQUIRE(wait_until([&] { return check_copy(f).exact(); }, 30s));
  const auto c = check_copy(f);
  CHECK(c.copied == c.log);
  CHECK(c.missing == 0);
  // It read on the standby, and holds the leadership on the primary.
  CHECK(owner_pid(f) == std::to_string(worker.pid()));
  PGconn* standby = PQconnectdb(replica.c_str());
  REQUIRE(PQstatus(standby) == CONNECTION_OK);
  PGresult* readers = PQexec(standby, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                      "'eventcore-replica-reader'");
  REQUIRE(PQresultStatus(readers) == PGRES_TUPLES_OK);
  CHECK(std::atoi(PQgetvalue(readers, 0, 0)) > 0);
  PQclear(readers);
  PQfinish(standby);
  worker.kill(SIGTERM);
}
