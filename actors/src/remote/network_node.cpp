#include "network_node.hpp"

#include <fstream>
#include <mutex>
#include <tuple>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/sec.hpp>

#include "eventcore/actors/scheduler_tuning.hpp"
#include "wire.hpp"

namespace eventcore::remote {

namespace {
Status readable(std::string_view setting, const std::string& path) {
  if (path.empty()) return Error{ErrorCode::invalid_argument, "TLS needs " + std::string(setting) + " (a PEM file)"};
  std::ifstream in(path);
  if (!in) return Error{ErrorCode::invalid_argument, "TLS " + std::string(setting) + " '" + path + "' cannot be read"};
  return {};
}

Status check(const NetworkConfig& c) {
  using std::chrono::milliseconds;
  if (c.heartbeat_interval < milliseconds(10) || c.connection_timeout <= c.heartbeat_interval)
    return Error{ErrorCode::invalid_argument,
                 "network: heartbeat_interval must be at least 10 ms and connection_timeout above it"};
  if (c.connect_timeout <= milliseconds(0) || c.request_timeout <= milliseconds(0))
    return Error{ErrorCode::invalid_argument, "network: connect_timeout and request_timeout must be positive"};
  if (c.threads == 0 || c.threads > 64) return Error{ErrorCode::invalid_argument, "network: threads must be 1 to 64"};
  if (c.tls) {
    if (auto s = readable("certificate", c.tls->certificate); !s) return s;
    if (auto s = readable("key", c.tls->key); !s) return s;
    if (auto s = readable("ca_file", c.tls->ca_file); !s) return s;
  }
  return {};
}

bool same_node(const NetworkConfig& a, const NetworkConfig& b) {
  auto tls = [](const NetworkConfig& c) {
    if (!c.tls) return std::tuple<std::string, std::string, std::string, std::string>();
    return std::tuple(c.tls->certificate, c.tls->key, c.tls->ca_file, c.tls->passphrase);
  };
  return a.tls.has_value() == b.tls.has_value() && tls(a) == tls(b) &&
         a.heartbeat_interval == b.heartbeat_interval && a.connection_timeout == b.connection_timeout &&
         a.threads == b.threads;
}
}  // namespace

Result<std::shared_ptr<NetworkNode>> NetworkNode::shared(const NetworkConfig& network) {
  if (auto s = check(network); !s) return s.error();
  static std::mutex mutex;
  static std::weak_ptr<NetworkNode> current;
  std::lock_guard lock(mutex);
  if (auto node = current.lock()) {
    if (!same_node(node->network_, network))
      return Error{ErrorCode::invalid_argument,
                   "this process's network node already runs with other TLS, heartbeat or thread settings "
                   "(a process is one node: give its gateways and remote executors the same NetworkConfig)"};
    return node;
  }
  std::shared_ptr<NetworkNode> node(new NetworkNode());
  node->network_ = network;
  auto& cfg = node->config_;
  cfg.load<caf::io::middleman>();
  configure_scheduler(cfg, network.threads);
  cfg.set("middleman.heartbeat-interval", caf::timespan(network.heartbeat_interval));
  cfg.set("middleman.connection-timeout", caf::timespan(network.connection_timeout));
  cfg.set("middleman.app-identifiers", std::vector<std::string>{std::string(kWireVersion)});
  if (network.tls) {
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = network.tls->certificate;
    cfg.openssl_key = network.tls->key;
    cfg.openssl_cafile = network.tls->ca_file;
    cfg.openssl_passphrase = network.tls->passphrase;
  }
  node->system_ = std::make_unique<caf::actor_system>(cfg);
  current = node;
  return node;
}

NetworkNode::~NetworkNode() = default;

caf::io::middleman_actor NetworkNode::middleman() {
  if (network_.tls) return system_->openssl_manager().actor_handle();
  return system_->middleman().actor_handle();
}

std::string NetworkNode::describe(const caf::error& error) const {
  if (error.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(error.code())) {
      case caf::sec::cannot_connect_to_node:
        return "cannot connect (refused or unreachable, or the TLS handshake failed)";
      case caf::sec::disconnect_during_handshake:
        return "the peer closed the connection during the handshake (TLS refused, or not an EventCore gateway)";
      case caf::sec::incompatible_application_ids:
        return "the peer speaks another wire version than " + std::string(kWireVersion);
      case caf::sec::incompatible_versions:
        return "the peer runs another CAF version";
      case caf::sec::request_timeout:
        return "no answer in time";
      case caf::sec::request_receiver_down:
        return "the connection was lost";
      case caf::sec::cannot_open_port:
        return "cannot open the port (taken, or not allowed)";
      case caf::sec::connection_timeout:
        return "the peer was silent for longer than the connection timeout";
      default:
        break;
    }
  }
  return system_->render(error);
}

}  // namespace eventcore::remote
