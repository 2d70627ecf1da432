#pragma once

// The service's one error body, {"error": {"code": "...", "message": "..."}},
// with its HTTP status, and how a command's failure maps onto it.

#include <httplib.h>

#include <stdexcept>
#include <string>

#include "eventcore/actors/command_error.hpp"

namespace eventcore::bank_service {

struct ApiError : std::runtime_error {
  ApiError(int status, std::string code, const std::string& message, int retry_after_s = 0)
      : std::runtime_error(message), status(status), code(std::move(code)), retry_after_s(retry_after_s) {}
  int status;
  std::string code;
  int retry_after_s;  // > 0: sent as Retry-After
};

// Writes the error's status, headers and body into `res`.
void send(httplib::Response& res, const ApiError& error);

// 404/409/422 for the domain's rejections (by CommandError::reason), 422 for
// an Idempotency-Key reused with another body, 503 + Retry-After for
// exhausted conflict retries, an unreachable store and timeouts, 500 (no
// internals in the body) for the rest.
ApiError from_command_error(const CommandError& error);

}  // namespace eventcore::bank_service
