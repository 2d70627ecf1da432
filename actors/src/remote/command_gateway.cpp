// The gateway: a published actor that decodes each command by its wire
// name, runs it on the node's executor and answers with its result.

#include <unordered_map>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "eventcore/actors/remote.hpp"
#include "network_node.hpp"
#include "wire.hpp"

namespace eventcore {

namespace {
using done_atom = caf::atom_constant<caf::atom("ec_done")>;

struct ServerState {
  std::uint64_t next = 0;
  std::unordered_map<std::uint64_t, caf::response_promise> pending;
  static inline const char* name = "eventcore.gateway";
};

std::string refused(const std::string& name, std::string message) {
  return remote::encode_result(CommandError{CommandErrorCode::invalid_command, name, {}, std::move(message),
                                            std::nullopt, 0, {}});
}

caf::behavior serve(caf::stateful_actor<ServerState>* self, CommandExecutor executor,
                    std::shared_ptr<const CommandRegistry> registry) {
  return {
      [=](remote::exec_atom, const std::string& name, const std::string& command,
          const std::string& options) -> caf::result<std::string> {
        ExecuteOptions decoded;
        try {
          decoded = remote::decode_options(options);
        } catch (const std::exception& e) {
          return refused(name, std::string("command options do not decode: ") + e.what());
        }
        auto job = registry->decode({name, command}, std::move(decoded));
        if (!job) return refused(name, job.error().message);
        const auto id = ++self->state.next;
        auto promise = self->make_response_promise();
        self->state.pending.emplace(id, promise);
        // A weak handle: a command that finishes after the gateway closed
        // must not keep its actor (and its network system) alive.
        executor.submit(std::move(*job), [me = self->address(), id](const ExecuteResult& result) {
          if (auto server = caf::actor_cast<caf::actor>(me))
            caf::anon_send(server, done_atom::value, id, remote::encode_result(result));
        });
        return caf::delegated<std::string>();
      },
      [=](done_atom, std::uint64_t id, std::string& result) {
        auto it = self->state.pending.find(id);
        if (it == self->state.pending.end()) return;
        it->second.deliver(std::move(result));
        self->state.pending.erase(it);
      },
  };
}
}  // namespace

struct CommandGateway::State {
  std::shared_ptr<remote::NetworkNode> node;
  caf::actor server;
  std::uint16_t port = 0;
  void close() {
    if (!server) return;
    caf::anon_send(node->middleman(), caf::close_atom::value, port);
    caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
    server = nullptr;
  }
  ~State() { close(); }
};

Result<CommandGateway> CommandGateway::publish(CommandExecutor executor, CommandRegistry registry,
                                               GatewayConfig config) {
  auto node = remote::NetworkNode::shared(config.network);
  if (!node) return std::move(node).error();
  auto state = std::make_shared<State>();
  state->node = std::move(*node);
  auto& sys = state->node->system();
  state->server = sys.spawn(serve, std::move(executor), std::make_shared<const CommandRegistry>(std::move(registry)));
  caf::scoped_actor self{sys};
  std::optional<Error> failed;
  const auto where = config.host + ":" + std::to_string(config.port);
  self->request(state->node->middleman(), config.network.connect_timeout, caf::publish_atom::value, config.port,
                caf::actor_cast<caf::strong_actor_ptr>(state->server), std::set<std::string>{}, config.host, true)
      .receive([&](std::uint16_t port) { state->port = port; },
               [&](const caf::error& error) {
                 failed = Error{ErrorCode::unavailable, "cannot publish the command gateway on " + where + ": " +
                                                            state->node->describe(error)};
               });
  if (failed) {
    caf::anon_send_exit(state->server, caf::exit_reason::user_shutdown);
    state->server = nullptr;
    return std::move(*failed);
  }
  return CommandGateway(std::move(state));
}

std::uint16_t CommandGateway::port() const { return state_->port; }

void CommandGateway::close() const { state_->close(); }

}  // namespace eventcore
