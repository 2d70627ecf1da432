// remote_bench: commands through the remote command gateway from another
// process, against the same commands in this process, alternating in one
// run (docs/PERFORMANCE.md, "Remote gateway"). JSON lines (report.hpp) on
// stdout, progress on stderr.
//
//   remote_c1, remote_c64   bank deposits to 64 accounts by 1 and by 64
//                           callers through a RemoteExecutor; the node is a
//                           child process (this binary with --node) running
//                           an executor on a MemoryStore behind a
//                           CommandGateway (plain TCP on loopback). Baseline:
//                           the same deposits on an executor in this
//                           process, on a MemoryStore of its own.
//   remote_pg_c1, _c64      the same with both executors on PostgreSQL
//                           (EVENTCORE_DATABASE_URL; schemas
//                           bench_remote_node and bench_remote_local): the
//                           network's share of a durable command.
//   remote_floor_c1, _c64   the gateway's round trip alone: a command the
//                           node does not register (bank.Withdraw), which
//                           its gateway refuses by name without the
//                           executor, by 1 and by 64 callers. Baseline: the
//                           in-process deposits. Its ratio is the most any
//                           remote command can reach against them.
//
// `--reps N`, `--seconds S` (default EVENTCORE_BENCH_SECONDS or 5).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "eventcore/actors/remote.hpp"
#include "eventcore/bank/registry.hpp"
#include "eventcore/store/memory_store.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "harness.hpp"
#include "report.hpp"

namespace eventcore::bench {
namespace {

constexpr int kAccounts = 64;

// Accounts of this run (the PostgreSQL schemas outlive it).
bank::AccountId account(int i) {
  static const std::string run = std::to_string(::getpid()) + "-" + std::to_string(std::time(nullptr));
  return bank::AccountId::try_new("a" + run + "-" + std::to_string(i)).value();
}

std::shared_ptr<EventStore> open_store(const std::string& database, const std::string& schema) {
  if (database.empty()) return std::make_shared<MemoryStore>();
  PostgresStoreConfig config;
  config.conninfo = database;
  config.schema = schema;
  auto store = PostgresStore::open(config);
  if (!store) throw std::runtime_error("cannot open " + schema + ": " + to_string(store.error()));
  return std::shared_ptr<EventStore>(std::move(*store));
}

// Runs a node: an executor (on `database`, else in memory) behind a
// gateway; prints the port and serves until its stdin closes.
int run_node(const std::string& database) {
  auto executor = CommandExecutor::builder().with_store(open_store(database, "bench_remote_node")).build().value();
  CommandRegistry registry;  // without bank.Withdraw: the floor cases send it
  registry.add<bank::OpenAccount>("bank.OpenAccount").add<bank::Deposit>("bank.Deposit");
  auto gateway = CommandGateway::publish(executor, std::move(registry), {});
  if (!gateway) {
    std::cerr << "node: " << to_string(gateway.error()) << "\n";
    return 1;
  }
  std::cout << "port " << gateway->port() << std::endl;
  char c;
  while (std::cin.get(c)) {
  }
  return 0;
}

// A child node process; stopped on destruction.
class Node {
 public:
  Node(const char* self, const std::string& database) {
    int to_child[2], from_child[2];
    if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(to_child[0], 0);
      ::dup2(from_child[1], 1);
      ::close(to_child[1]);
      ::close(from_child[0]);
      if (database.empty())
        ::execl(self, self, "--node", nullptr);
      else
        ::execl(self, self, "--node", "--database", database.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    stdin_ = to_child[1];
    FILE* out = ::fdopen(from_child[0], "r");
    unsigned port = 0;
    if (!out || std::fscanf(out, "port %u", &port) != 1) throw std::runtime_error("the node did not start");
    std::fclose(out);
    port_ = static_cast<std::uint16_t>(port);
  }
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node() {
    ::close(stdin_);
    int status = 0;
    for (int i = 0; i < 100 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) ::usleep(20'000);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::uint16_t port_ = 0;
};

template <class Executor>
class DepositClient : public Client {
 public:
  DepositClient(const Executor& executor, int first) : executor_(executor), next_(first) {}
  std::uint64_t op(std::string& error) override {
    auto result = executor_.execute_sync(bank::Deposit{account(next_++ % kAccounts), cents_, {}});
    if (!result) error = to_string(result.error());
    return 1;
  }

 private:
  const Executor& executor_;
  int next_;
  bank::Money cents_ = bank::Money::try_new(1).value();
};

// A command the node refuses by name: the gateway's round trip alone.
class RefusedClient : public Client {
 public:
  explicit RefusedClient(const RemoteExecutor& executor) : executor_(executor) {}
  std::uint64_t op(std::string& error) override {
    auto result = executor_.execute_sync(bank::Withdraw{account(0), cents_, {}});
    if (result) error = "the node ran a command it should not know";
    else if (result.error().code != CommandErrorCode::invalid_command) error = to_string(result.error());
    return 1;
  }

 private:
  const RemoteExecutor& executor_;
  bank::Money cents_ = bank::Money::try_new(1).value();
};

RunStats refused(const RemoteExecutor& executor, int callers, double seconds) {
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < callers; ++i) clients.push_back(std::make_unique<RefusedClient>(executor));
  return run_clients(clients, seconds, 20);
}

template <class Executor>
RunStats deposits(const Executor& executor, int callers, double seconds) {
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < callers; ++i) clients.push_back(std::make_unique<DepositClient<Executor>>(executor, i));
  return run_clients(clients, seconds, 20);
}

template <class Executor>
void open_accounts(const Executor& executor) {
  for (int i = 0; i < kAccounts; ++i) {
    auto opened = executor.execute_sync(bank::OpenAccount{account(i), "bench"});
    if (!opened) throw std::runtime_error("cannot open the accounts: " + to_string(opened.error()));
  }
}

}  // namespace
}  // namespace eventcore::bench

int main(int argc, char** argv) {
  using namespace eventcore;
  using namespace eventcore::bench;
  CLI::App app{"commands through the remote gateway vs in-process"};
  bool node = false;
  std::string database;
  int reps = 3;
  double seconds = std::getenv("EVENTCORE_BENCH_SECONDS") ? std::atof(std::getenv("EVENTCORE_BENCH_SECONDS")) : 5;
  app.add_flag("--node", node, "(internal) run the gateway node");
  app.add_option("--database", database, "(internal) the node's PostgreSQL");
  app.add_option("--reps", reps)->check(CLI::Range(1, 100));
  app.add_option("--seconds", seconds)->check(CLI::Range(0.1, 3600.0));
  CLI11_PARSE(app, argc, argv);
  if (node) return run_node(database);

  std::vector<std::pair<std::string, std::string>> stores{{"remote", ""}};
  if (const char* url = std::getenv("EVENTCORE_DATABASE_URL")) stores.push_back({"remote_pg", url});
  for (const auto& [prefix, url] : stores) {
    Node child(argv[0], url);
    RemoteConfig config;
    config.port = child.port();
    auto remote = RemoteExecutor::connect(bank::commands(), config);
    if (!remote) {
      std::cerr << "remote_bench: " << to_string(remote.error()) << "\n";
      return 1;
    }
    auto local = CommandExecutor::builder().with_store(open_store(url, "bench_remote_local")).build().value();
    open_accounts(*remote);
    open_accounts(local);
    for (int callers : {1, 64}) {
      const std::string name = prefix + "_c" + std::to_string(callers);
      auto comparison =
          alternate(name, reps, Side{"in_process", [&] { return deposits(local, callers, seconds); }},
                    Side{"remote", [&] { return deposits(*remote, callers, seconds); }}, false, "commands/s");
      CaseReport report{name, "command_throughput", "commands/s", callers, "in_process", false, 0.5, std::nullopt, {}};
      report.extra["node"] = std::string("another process, ") + (url.empty() ? "MemoryStore" : "PostgreSQL") +
                             ", plain TCP on loopback";
      emit(report, comparison);
    }
    if (!url.empty()) continue;
    for (int callers : {1, 64}) {
      const std::string name = "remote_floor_c" + std::to_string(callers);
      auto comparison =
          alternate(name, reps, Side{"in_process", [&] { return deposits(local, callers, seconds); }},
                    Side{"refused_by_name", [&] { return refused(*remote, callers, seconds); }}, false, "commands/s");
      CaseReport report{name, "gateway_round_trip", "commands/s", callers, "in_process", false, 0.5, std::nullopt, {}};
      report.extra["node"] = std::string("another process, plain TCP on loopback; the command is refused by name");
      emit(report, comparison);
    }
  }
  return 0;
}
