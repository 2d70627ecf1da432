#pragma once

// What a front binds an idempotency key to (ExecuteOptions::fingerprint):
// a stable hash of the parts of the request it received with the key, so
// that another request under the same key is refused. One function for every
// front (bank_service's HTTP, bank_grpc).

#include <initializer_list>
#include <string>
#include <string_view>

namespace eventcore::bank {

// FNV-1a, 64 bits, over each part followed by a separator byte; 16 hex digits.
std::string request_fingerprint(std::initializer_list<std::string_view> parts);

}  // namespace eventcore::bank
