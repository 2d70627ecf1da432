#pragma once

// Commands across processes, over CAF's network layer. Plain code: this
// header needs no CAF.
//
// A node publishes a gateway in front of its executor:
//
//   auto gateway = CommandGateway::publish(executor, registry,
//                                          {.host = "0.0.0.0", .port = 4242, .network = {.tls = tls}}).value();
//
// and any other process connects and executes as it would locally:
//
//   auto node = RemoteExecutor::connect(registry, {.host = "10.0.0.5", .port = 4242,
//                                                  .network = {.tls = tls}}).value();
//   ExecuteResult r = node.execute_sync(bank::Deposit{...}, {.idempotency_key = "req-17"});
//
// Both sides register the same commands under the same names
// (command_registry.hpp); the command runs on the gateway's node, with that
// node's retry policy, and the caller gets its ExecuteResult.
//
// Outcomes, beyond those of CommandExecutor (command_executor.hpp):
// - store_unavailable, message "... nothing was sent": the gateway could not
//   be reached (refused, TLS refused, an incompatible node). Nothing was
//   written; retrying is safe.
// - store_unavailable, message "... may have committed": the connection was
//   lost while the command was in flight (the node died or froze: heartbeats
//   notice a silent peer within NetworkConfig::connection_timeout).
// - timeout: no answer within NetworkConfig::request_timeout. It may have
//   committed.
// After either of the last two, executing the command again with the same
// idempotency key (on this node once it is back, or on any node on the same
// store) is safe: it returns the first result if the first attempt committed.
//
// Every wait is bounded: connecting by connect_timeout, each request by
// request_timeout.
//
// The gateways and remote executors of a process share one network actor
// system, started with the first and stopped with the last: never let the
// last copy of either go inside one of their callbacks (the system would
// wait for its own thread).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/actors/command_registry.hpp"

namespace eventcore {

// Mutual TLS: each node presents a certificate signed by the cluster's CA
// and accepts only peers whose certificate that CA signed. There is no
// hostname check (CAF 0.17 does none): the CA is the trust boundary, so give
// a cluster a CA of its own.
struct TlsConfig {
  std::string certificate;  // PEM file: this node's certificate
  std::string key;          // PEM file: its private key
  std::string ca_file;      // PEM file: the CA that signed every node's certificate
  std::string passphrase;   // of the key, if it is encrypted (never logged)
};

struct NetworkConfig {
  // None: plain TCP, for loopback or a network you trust.
  std::optional<TlsConfig> tls;
  // Each side sends a heartbeat this often, and drops a connection that
  // stayed silent for connection_timeout: how a frozen peer is noticed.
  std::chrono::milliseconds heartbeat_interval{1'000};
  std::chrono::milliseconds connection_timeout{5'000};
  std::chrono::milliseconds connect_timeout{5'000};
  // How long a caller waits for a command's answer. Keep it above the
  // gateway node's RuntimeConfig::command_timeout (30 s by default).
  std::chrono::milliseconds request_timeout{35'000};
  std::size_t threads = 2;  // the network actor system's scheduler threads
};

// "host:port", as flags take it (port 0 to 65535; "[::1]:7400" for IPv6).
// Errors: invalid_argument, quoting the text.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  static Result<Endpoint> parse(std::string_view text);
};

struct GatewayConfig {
  std::string host = "127.0.0.1";  // the address to listen on ("0.0.0.0": every interface)
  std::uint16_t port = 0;          // 0: a free port, see CommandGateway::port()
  NetworkConfig network;
};

// Serves an executor's commands to other processes. Stops (and closes its
// port) when the last copy is gone or on close(); commands already running
// still finish on the executor.
class CommandGateway {
 public:
  // Errors: invalid_argument (an unreadable certificate, key or CA file, a
  // TLS config with a part missing, bad settings), unavailable (the port is
  // taken, or cannot be bound).
  static Result<CommandGateway> publish(CommandExecutor executor, CommandRegistry registry, GatewayConfig config);

  std::uint16_t port() const;
  void close() const;

 private:
  struct State;
  explicit CommandGateway(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

struct RemoteConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  NetworkConfig network;
};

// The executor of another node, behind its CommandGateway. Copies share one
// connection; all methods are thread-safe. A lost connection is opened again
// on the next command.
class RemoteExecutor {
 public:
  using Callback = std::function<void(const ExecuteResult&)>;

  // Connects (at most connect_timeout). Errors: invalid_argument (settings,
  // TLS files), unavailable (refused, TLS refused, an incompatible node,
  // no answer in time), each naming host and port.
  static Result<RemoteExecutor> connect(CommandRegistry registry, RemoteConfig config);

  // `done` is called exactly once, on a network thread (keep it short).
  template <Command C>
  void execute(const C& command, Callback done, ExecuteOptions options = {}) const {
    auto encoded = registry().encode(command);
    if (!encoded) return done(not_sent(detail::command_name<C>(), command.streams(), std::move(encoded).error()));
    submit(std::move(*encoded), detail::command_name<C>(), command.streams(), std::move(options), std::move(done));
  }

  template <Command C>
  ExecuteResult execute_sync(const C& command, ExecuteOptions options = {}) const {
    auto encoded = registry().encode(command);
    if (!encoded) return not_sent(detail::command_name<C>(), command.streams(), std::move(encoded).error());
    return run(std::move(*encoded), detail::command_name<C>(), command.streams(), std::move(options));
  }

  // Sends an encoded command (tools that take commands by name).
  void submit(EncodedCommand command, std::string type, std::vector<StreamId> streams, ExecuteOptions options,
              Callback done) const;
  ExecuteResult run(EncodedCommand command, std::string type, std::vector<StreamId> streams,
                    ExecuteOptions options) const;

  const CommandRegistry& registry() const;
  // "host:port"
  std::string peer() const;
  // Closes the connection; later commands fail.
  void close() const;

 private:
  struct State;
  explicit RemoteExecutor(std::shared_ptr<State> state) : state_(std::move(state)) {}
  static ExecuteResult not_sent(std::string type, std::vector<StreamId> streams, Error error);
  std::shared_ptr<State> state_;
};

}  // namespace eventcore
