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
//   caf_echo_c1, _c64       CAF's own floor, without EventCore: a request of
//                           the gateway's shape (an atom and three strings)
//                           to an echo actor published by another process
//                           (this binary with --caf-echo), from a
//                           scoped_actor per caller; both actor systems set
//                           up as the network node's. Baseline: the
//                           in-process deposits.
//   socket_echo_c1, _c64    the kernel's floor: a 128-byte message to
//                           another process over a loopback TCP connection
//                           (TCP_NODELAY) and back, one blocking connection
//                           per caller, no framework. Baseline: the
//                           in-process deposits.
//
// Every line also has each side's context switches per operation
// (context_switches_per_op, baseline_..., as every bench reports them): the
// thread hand-offs a round trip costs, counted across both processes.
//
// `--reps N`, `--seconds S` (default EVENTCORE_BENCH_SECONDS or 5).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "eventcore/actors/remote.hpp"
#include "eventcore/actors/scheduler_tuning.hpp"
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

// Tells the parent (Node) the port, then returns once the parent closes
// this child's stdin: how every child here serves until it is stopped.
void announce_and_serve(unsigned port) {
  std::cout << "port " << port << std::endl;
  char c;
  while (std::cin.get(c)) {
  }
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
  announce_and_serve(gateway->port());
  return 0;
}

using echo_atom = caf::atom_constant<caf::atom("ec_echo")>;
constexpr std::size_t kEchoBytes = 128;

// Set up as the network node's system (network_node.cpp): the middleman,
// the runtime's scheduler settings, two threads.
caf::actor_system_config& echo_config(caf::actor_system_config& config) {
  config.load<caf::io::middleman>();
  configure_scheduler(config, 2);
  return config;
}

// Publishes an actor that answers each request with the same bytes; prints
// the port and serves until stdin closes.
int run_caf_echo() {
  caf::actor_system_config config;
  caf::actor_system system{echo_config(config)};
  auto echo = system.spawn([]() -> caf::behavior {
    return {[](echo_atom, const std::string&, const std::string& bytes, const std::string&) { return bytes; }};
  });
  auto port = system.middleman().publish(echo, 0, "127.0.0.1", true);
  if (!port) {
    std::cerr << "caf echo: " << system.render(port.error()) << "\n";
    return 1;
  }
  announce_and_serve(*port);
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  return 0;
}

bool read_exactly(int fd, char* p, std::size_t n) {
  while (n > 0) {
    const auto got = ::read(fd, p, n);
    if (got <= 0) return false;
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

void no_delay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Echoes 128-byte messages on every loopback connection (a thread each);
// prints the port and serves until stdin closes.
int run_socket_echo() {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 128) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::cerr << "socket echo: cannot listen on loopback\n";
    return 1;
  }
  std::thread([listener] {
    for (;;) {
      const int fd = ::accept(listener, nullptr, nullptr);
      if (fd < 0) continue;
      no_delay(fd);
      std::thread([fd] {
        char buffer[kEchoBytes];
        while (read_exactly(fd, buffer, sizeof buffer) &&
               ::send(fd, buffer, sizeof buffer, MSG_NOSIGNAL) == sizeof buffer) {
        }
        ::close(fd);
      }).detach();
    }
  }).detach();
  announce_and_serve(ntohs(address.sin_port));
  ::_exit(0);  // the connection threads still run
}

// A child process (this binary with `mode`); stopped on destruction.
class Node {
 public:
  Node(const char* self, const char* mode, const std::string& database = {}) {
    int to_child[2], from_child[2];
    if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(to_child[0], 0);
      ::dup2(from_child[1], 1);
      ::close(to_child[1]);
      ::close(from_child[0]);
      if (database.empty())
        ::execl(self, self, mode, nullptr);
      else
        ::execl(self, self, mode, "--database", database.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    stdin_ = to_child[1];
    FILE* out = ::fdopen(from_child[0], "r");
    unsigned port = 0;
    if (!out || std::fscanf(out, "port %u", &port) != 1) throw std::runtime_error(std::string(mode) + " did not start");
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

// One request to the CAF echo node, of the gateway's shape, from a
// scoped_actor of its own.
class CafEchoClient : public Client {
 public:
  CafEchoClient(caf::actor_system& system, caf::actor echo) : self_(system), echo_(std::move(echo)) {}
  std::uint64_t op(std::string& error) override {
    self_->request(echo_, std::chrono::seconds(10), echo_atom::value, name_, bytes_, options_)
        .receive([&](const std::string& answer) { if (answer.size() != bytes_.size()) error = "a short echo"; },
                 [&](const caf::error& e) { error = "caf echo: " + self_->system().render(e); });
    return 1;
  }

 private:
  caf::scoped_actor self_;
  caf::actor echo_;
  std::string name_ = "bank.Deposit", bytes_ = std::string(64, 'x'), options_ = std::string(16, 'o');
};

// One 128-byte message over a loopback connection of its own, and back.
class SocketEchoClient : public Client {
 public:
  explicit SocketEchoClient(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      throw std::runtime_error("cannot connect to the socket echo node");
    no_delay(fd_);
  }
  SocketEchoClient(const SocketEchoClient&) = delete;
  SocketEchoClient& operator=(const SocketEchoClient&) = delete;
  ~SocketEchoClient() override { ::close(fd_); }
  std::uint64_t op(std::string& error) override {
    if (::send(fd_, buffer_, sizeof buffer_, MSG_NOSIGNAL) != sizeof buffer_ || !read_exactly(fd_, buffer_, sizeof buffer_))
      error = "the socket echo node closed the connection";
    return 1;
  }

 private:
  int fd_;
  char buffer_[kEchoBytes] = {};
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

// Runs a case of the in-process deposits (`baseline`) against `subject` and
// prints it.
void compare(const std::string& name, const std::string& metric, const std::string& unit, int callers, int reps,
             const Side& baseline, const Side& subject, const std::string& node) {
  auto comparison = alternate(name, reps, baseline, subject, false, unit);
  CaseReport report{name, metric, unit, callers, "in_process", false, 0.5, std::nullopt, {}};
  report.extra["node"] = node;
  emit(report, comparison);
}

}  // namespace
}  // namespace eventcore::bench

int main(int argc, char** argv) {
  using namespace eventcore;
  using namespace eventcore::bench;
  CLI::App app{"commands through the remote gateway vs in-process"};
  bool node = false, caf_echo = false, socket_echo = false;
  std::string database;
  int reps = 3;
  double seconds = std::getenv("EVENTCORE_BENCH_SECONDS") ? std::atof(std::getenv("EVENTCORE_BENCH_SECONDS")) : 5;
  app.add_flag("--node", node, "(internal) run the gateway node");
  app.add_flag("--caf-echo", caf_echo, "(internal) run the CAF echo node");
  app.add_flag("--socket-echo", socket_echo, "(internal) run the socket echo node");
  app.add_option("--database", database, "(internal) the node's PostgreSQL");
  app.add_option("--reps", reps)->check(CLI::Range(1, 100));
  app.add_option("--seconds", seconds)->check(CLI::Range(0.1, 3600.0));
  CLI11_PARSE(app, argc, argv);
  if (node) return run_node(database);
  if (caf_echo) return run_caf_echo();
  if (socket_echo) return run_socket_echo();

  // The floors first: the CAF system of the echo cases is gone before the
  // remote executor's network system starts (a process is one CAF node).
  {
    auto local = CommandExecutor::builder().with_store(std::make_shared<MemoryStore>()).build().value();
    open_accounts(local);
    {
      Node child(argv[0], "--caf-echo");
      caf::actor_system_config config;
      caf::actor_system system{echo_config(config)};
      auto echo = system.middleman().remote_actor("127.0.0.1", child.port());
      if (!echo) {
        std::cerr << "remote_bench: cannot reach the CAF echo node: " << system.render(echo.error()) << "\n";
        return 1;
      }
      for (int callers : {1, 64}) {
        Side subject{"caf_echo", [&, callers] {
                       std::vector<std::unique_ptr<Client>> clients;
                       for (int i = 0; i < callers; ++i) clients.push_back(std::make_unique<CafEchoClient>(system, *echo));
                       return run_clients(clients, seconds, 20);
                     }};
        compare("caf_echo_c" + std::to_string(callers), "round_trip", "round trips/s", callers, reps,
                Side{"in_process", [&, callers] { return deposits(local, callers, seconds); }}, subject,
                "another process, CAF 0.17's middleman on loopback, no EventCore");
      }
    }
    {
      Node child(argv[0], "--socket-echo");
      for (int callers : {1, 64}) {
        Side subject{"socket_echo", [&, callers] {
                       std::vector<std::unique_ptr<Client>> clients;
                       for (int i = 0; i < callers; ++i) clients.push_back(std::make_unique<SocketEchoClient>(child.port()));
                       return run_clients(clients, seconds, 20);
                     }};
        compare("socket_echo_c" + std::to_string(callers), "round_trip", "round trips/s", callers, reps,
                Side{"in_process", [&, callers] { return deposits(local, callers, seconds); }}, subject,
                "another process, blocking loopback TCP, no framework");
      }
    }
  }

  std::vector<std::pair<std::string, std::string>> stores{{"remote", ""}};
  if (const char* url = std::getenv("EVENTCORE_DATABASE_URL")) stores.push_back({"remote_pg", url});
  for (const auto& [prefix, url] : stores) {
    Node child(argv[0], "--node", url);
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
      Side in_process{"in_process", [&, callers] { return deposits(local, callers, seconds); }};
      compare(prefix + "_c" + std::to_string(callers), "command_throughput", "commands/s", callers, reps, in_process,
              Side{"remote", [&, callers] { return deposits(*remote, callers, seconds); }},
              std::string("another process, ") + (url.empty() ? "MemoryStore" : "PostgreSQL") +
                  ", plain TCP on loopback");
      if (url.empty())
        compare("remote_floor_c" + std::to_string(callers), "gateway_round_trip", "commands/s", callers, reps,
                in_process, Side{"refused_by_name", [&, callers] { return refused(*remote, callers, seconds); }},
                "another process, plain TCP on loopback; the command is refused by name");
    }
  }
  return 0;
}
