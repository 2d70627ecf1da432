#pragma once

// The actor system a process talks to other nodes with: CAF's middleman
// (and its TLS manager when TLS is configured), heartbeats on, and the wire
// version as the handshake's app identifier. Kept apart from the
// executor's system, so that a node's executor never needs the network.
//
// One per process, shared by its gateways and remote executors: CAF derives
// a node's identity from the host and the process id, so two systems in one
// process would be one node to their peers, and a peer's answers would
// reach the wrong system.

#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/io/middleman_actor.hpp>

#include "eventcore/actors/remote.hpp"

namespace eventcore::remote {

// The gateway's one message: (exec_atom, wire name, command bytes, options
// bytes) answered with the result's bytes (wire.hpp). Only built-in types
// cross the network, so nothing needs registering with CAF.
using exec_atom = caf::atom_constant<caf::atom("ec_exec")>;

class NetworkNode {
 public:
  // Errors: invalid_argument for settings out of range or TLS files that are
  // missing, unreadable or incomplete (naming the setting and the path).
  // The process's node, started on first use. Errors, beyond those: the
  // node already runs with other TLS, heartbeat or thread settings.
  static Result<std::shared_ptr<NetworkNode>> shared(const NetworkConfig& config);
  ~NetworkNode();

  caf::actor_system& system() { return *system_; }
  // The middleman actor to publish and connect through (the TLS one with TLS).
  caf::io::middleman_actor middleman();

  // What a CAF error from publishing, connecting or a request means, in
  // plain words.
  std::string describe(const caf::error& error) const;

 private:
  NetworkNode() = default;
  NetworkConfig network_;
  caf::actor_system_config config_;
  std::unique_ptr<caf::actor_system> system_;
};

}  // namespace eventcore::remote
