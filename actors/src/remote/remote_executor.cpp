// The client side: one actor per connection that sends each command to the
// gateway with a bounded request, watches the connection (a lost one fails
// every command in flight at once, instead of at its timeout) and opens it
// again on the next command.

#include <algorithm>
#include <deque>
#include <future>
#include <unordered_map>

#include <caf/actor_cast.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "eventcore/actors/remote.hpp"
#include "network_node.hpp"
#include "wire.hpp"

namespace eventcore::remote {
namespace {
struct Call {
  EncodedCommand command;
  std::string type;
  std::vector<StreamId> streams;
  std::string options;
  RemoteExecutor::Callback done;
};
}  // namespace
}  // namespace eventcore::remote

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::remote::Call)

namespace eventcore {

namespace remote {
namespace {
using call_atom = caf::atom_constant<caf::atom("ec_call")>;
using probe_atom = caf::atom_constant<caf::atom("ec_probe")>;

ExecuteResult unavailable(const Call& call, std::string message) {
  return CommandError{CommandErrorCode::store_unavailable, call.type, call.streams, message,
                      Error{ErrorCode::unavailable, std::move(message)}, 0, {}};
}

struct ClientState {
  // Not an aggregate: CAF constructs a state from the actor's pointer when
  // it can, and C++20 would initialize `gateway` with it.
  ClientState() = default;
  caf::actor gateway;
  bool connecting = false;
  std::optional<std::string> closed;  // why, once closed for good
  std::deque<Call> waiting;           // for the connection
  std::uint64_t next = 0;
  std::unordered_map<std::uint64_t, Call> in_flight;
  std::vector<caf::response_promise> probes;  // waiting for the connection's outcome
  static inline const char* name = "eventcore.remote";
};

using Self = caf::stateful_actor<ClientState>;

caf::behavior client(Self* self, NetworkNode* node, NetworkConfig network, std::string host, std::uint16_t port) {
  const std::string peer = host + ":" + std::to_string(port);
  const auto request_timeout = network.request_timeout;

  auto finish = [=](std::uint64_t id, ExecuteResult result) {
    auto it = self->state.in_flight.find(id);
    if (it == self->state.in_flight.end()) return;  // already failed by a lost connection
    auto done = std::move(it->second.done);
    self->state.in_flight.erase(it);
    done(result);
  };

  auto send = [=](Call call) {
    const auto id = ++self->state.next;
    auto name = call.command.name;
    auto bytes = call.command.bytes;
    auto options = call.options;
    self->state.in_flight.emplace(id, std::move(call));
    self->request(self->state.gateway, request_timeout, exec_atom::value, std::move(name), std::move(bytes),
                  std::move(options))
        .then(
            [=](const std::string& answer) {
              auto it = self->state.in_flight.find(id);
              if (it == self->state.in_flight.end()) return;
              try {
                finish(id, decode_result(answer));
              } catch (const std::exception& e) {
                finish(id, CommandError{CommandErrorCode::store_failed, it->second.type, it->second.streams,
                                        "the answer of gateway " + peer + " does not decode: " + e.what() +
                                            "; the command may have committed",
                                        std::nullopt, 0, {}});
              }
            },
            [=](const caf::error& error) {
              auto it = self->state.in_flight.find(id);
              if (it == self->state.in_flight.end()) return;
              const Call& c = it->second;
              if (error == caf::sec::request_timeout)
                finish(id, CommandError{CommandErrorCode::timeout, c.type, c.streams,
                                        "no answer from gateway " + peer + " within " +
                                            std::to_string(request_timeout.count()) +
                                            " ms: the command may have committed",
                                        std::nullopt, 0, {}});
              else
                finish(id, unavailable(c, "gateway " + peer + ": " + node->describe(error) +
                                              "; the command may have committed"));
            });
  };

  // Ends a connection attempt: sends what waited for it, or fails it.
  auto connected = [=](std::optional<std::string> failure) {
    self->state.connecting = false;
    auto waiting = std::move(self->state.waiting);
    self->state.waiting.clear();
    for (auto& call : waiting) {
      if (failure) call.done(unavailable(call, *failure + "; nothing was sent"));
      else send(std::move(call));
    }
    for (auto& probe : self->state.probes) probe.deliver(failure.value_or(std::string()));
    self->state.probes.clear();
  };

  // One attempt of a connection that must be made by `deadline`. CAF 0.17's
  // BASP broker gives an outgoing connection no "last seen" time until the
  // gateway's handshake arrives, so a heartbeat tick in between drops it with
  // connection_timeout although nothing timed out: such an attempt is made
  // again while the deadline allows (a tick comes once per heartbeat
  // interval, so a handshake shorter than that gets through).
  // (`again` is this lambda itself, for the next attempt.)
  auto attempt = [=](const auto& again, caf::actor_clock::time_point deadline) -> void {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - self->clock().now());
    self->request(node->middleman(), std::max(left, std::chrono::milliseconds(1)), caf::connect_atom::value, host,
                  port)
        .then(
            [=](const caf::node_id&, caf::strong_actor_ptr& gateway, const std::set<std::string>&) {
              if (!gateway) return connected("cannot connect to gateway " + peer + ": no actor is published there");
              if (self->state.closed) return connected(*self->state.closed);
              self->state.gateway = caf::actor_cast<caf::actor>(gateway);
              self->monitor(self->state.gateway);
              connected(std::nullopt);
            },
            [=](const caf::error& error) {
              if (error == caf::sec::connection_timeout && self->clock().now() < deadline && !self->state.closed)
                return again(again, deadline);
              connected("cannot connect to gateway " + peer + ": " + node->describe(error));
            });
  };
  auto connect = [=] {
    if (self->state.connecting || self->state.gateway) return;
    self->state.connecting = true;
    attempt(attempt, self->clock().now() + network.connect_timeout);
  };

  self->set_down_handler([=](const caf::down_msg& down) {
    if (down.source != self->state.gateway.address()) return;
    self->state.gateway = nullptr;
    auto lost = std::move(self->state.in_flight);
    self->state.in_flight.clear();
    for (auto& [id, call] : lost)
      call.done(unavailable(call, "connection to gateway " + peer + " lost while the command was in flight: "
                                  "it may have committed"));
  });

  return {
      [=](call_atom, Call& call) {
        if (self->state.closed) return call.done(unavailable(call, *self->state.closed + "; nothing was sent"));
        if (self->state.gateway) return send(std::move(call));
        self->state.waiting.push_back(std::move(call));
        connect();
      },
      // Connects if not connected; answers "" when connected, else why not.
      [=](probe_atom) -> caf::result<std::string> {
        if (self->state.gateway) return std::string();
        self->state.probes.push_back(self->make_response_promise());
        connect();
        return caf::delegated<std::string>();
      },
      [=](caf::close_atom) {
        self->state.closed = "the connection to gateway " + peer + " was closed";
        if (self->state.gateway) self->demonitor(self->state.gateway);
        self->state.gateway = nullptr;
        auto lost = std::move(self->state.in_flight);
        self->state.in_flight.clear();
        for (auto& [id, call] : lost)
          call.done(unavailable(call, *self->state.closed + " while the command was in flight: it may have committed"));
      },
  };
}
}  // namespace
}  // namespace remote

struct RemoteExecutor::State {
  CommandRegistry registry;
  std::string peer;
  std::chrono::milliseconds wait_bound{};
  std::shared_ptr<remote::NetworkNode> node;
  caf::actor client;
  ~State() {
    if (client) caf::anon_send(client, caf::close_atom::value);
    if (client) caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  }
};

Result<RemoteExecutor> RemoteExecutor::connect(CommandRegistry registry, RemoteConfig config) {
  auto node = remote::NetworkNode::shared(config.network);
  if (!node) return std::move(node).error();
  auto state = std::make_shared<State>();
  state->registry = std::move(registry);
  state->peer = config.host + ":" + std::to_string(config.port);
  // A command's answer, or its failure, comes within the request timeout
  // (or the connect timeout, then the request timeout); the margin covers
  // the hops between.
  state->wait_bound = config.network.connect_timeout + config.network.request_timeout + std::chrono::seconds(5);
  state->node = std::move(*node);
  state->client = state->node->system().spawn(remote::client, state->node.get(), config.network, config.host, config.port);
  caf::scoped_actor self{state->node->system()};
  std::optional<Error> failed;
  self->request(state->client, config.network.connect_timeout + std::chrono::seconds(1), remote::probe_atom::value)
      .receive(
          [&](const std::string& why) {
            if (!why.empty()) failed = Error{ErrorCode::unavailable, why};
          },
          [&](const caf::error& error) {
            failed = Error{ErrorCode::unavailable,
                           "cannot connect to gateway " + state->peer + ": " + state->node->describe(error)};
          });
  if (failed) return std::move(*failed);
  return RemoteExecutor(std::move(state));
}

void RemoteExecutor::submit(EncodedCommand command, std::string type, std::vector<StreamId> streams,
                            ExecuteOptions options, Callback done) const {
  caf::anon_send(state_->client, remote::call_atom::value,
                 remote::Call{std::move(command), std::move(type), std::move(streams),
                              remote::encode_options(options), std::move(done)});
}

ExecuteResult RemoteExecutor::run(EncodedCommand command, std::string type, std::vector<StreamId> streams,
                                  ExecuteOptions options) const {
  auto promise = std::make_shared<std::promise<ExecuteResult>>();
  auto future = promise->get_future();
  auto copy_type = type;
  auto copy_streams = streams;
  submit(std::move(command), std::move(type), std::move(streams), std::move(options),
         [promise](const ExecuteResult& result) { promise->set_value(result); });
  if (future.wait_for(state_->wait_bound) == std::future_status::ready) return future.get();
  // Unreachable unless the network system stalls: every path above answers.
  return CommandError{CommandErrorCode::timeout, std::move(copy_type), std::move(copy_streams),
                      "no answer from gateway " + state_->peer + ": the command may have committed",
                      std::nullopt, 0, {}};
}

ExecuteResult RemoteExecutor::not_sent(std::string type, std::vector<StreamId> streams, Error error) {
  auto message = error.message + "; nothing was sent";
  return CommandError{CommandErrorCode::invalid_command, std::move(type), std::move(streams), std::move(message),
                      std::move(error), 0, {}};
}

const CommandRegistry& RemoteExecutor::registry() const { return state_->registry; }

std::string RemoteExecutor::peer() const { return state_->peer; }

void RemoteExecutor::close() const { caf::anon_send(state_->client, caf::close_atom::value); }

}  // namespace eventcore
