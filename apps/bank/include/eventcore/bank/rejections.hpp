#pragma once

// How the example domains' rejection reasons (CommandError::reason) read to
// a client: one classification for every front (HTTP statuses in
// bank_service, gRPC codes in bank_grpc), so that both answer alike.

#include <string_view>

namespace eventcore::bank {

enum class RejectionKind {
  not_found,      // account_not_found, order_not_found, approver_not_found
  invalid,        // the domain finds the input invalid: invalid_amount, same_account, invalid_order, invalid_quantity
  stale_version,  // version_mismatch: the client's expected version is not the stream's
  exists,         // account_exists, order_exists, approver_exists
  refused,        // any other refusal: insufficient_funds, insufficient_stock, over_limit, already_approved
};

inline RejectionKind classify_rejection(std::string_view reason) {
  if (reason.ends_with("_not_found")) return RejectionKind::not_found;
  if (reason == "invalid_amount" || reason == "same_account" || reason == "invalid_order" ||
      reason == "invalid_quantity")
    return RejectionKind::invalid;
  if (reason == "version_mismatch") return RejectionKind::stale_version;
  if (reason.ends_with("_exists")) return RejectionKind::exists;
  return RejectionKind::refused;
}

}  // namespace eventcore::bank
