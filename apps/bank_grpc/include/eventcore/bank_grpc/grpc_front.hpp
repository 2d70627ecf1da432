#pragma once

// The bank's commands and stream reads over gRPC (proto/bank.proto), on the
// same executor and store as the HTTP service, with its semantics: one
// classification of rejections (by CommandError::reason), idempotency keys
// bound to the request (a hash of the method and the request's bytes).

#include <cstdint>
#include <memory>
#include <string>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/store/event_store.hpp"

namespace eventcore::bank_grpc {

class GrpcFront {
 public:
  // Listens on host:port (port 0: a free one, see port()); plain text (put
  // TLS in front, or run it on a trusted network). Errors: unavailable when
  // the address cannot be bound.
  static Result<std::unique_ptr<GrpcFront>> start(CommandExecutor executor, std::shared_ptr<EventStore> store,
                                                   const std::string& host, std::uint16_t port,
                                                   std::size_t max_page = 1000);
  ~GrpcFront();  // shutdown(), if not done
  std::uint16_t port() const;
  // Stops accepting, answers the calls in flight (at most 5 s), returns.
  void shutdown();

 private:
  struct Impl;
  explicit GrpcFront(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace eventcore::bank_grpc
