#include "api_error.hpp"

#include <nlohmann/json.hpp>

#include "eventcore/bank/rejections.hpp"

namespace eventcore::bank_service {

void send(httplib::Response& res, const ApiError& error) {
  res.status = error.status;
  if (error.retry_after_s > 0) res.set_header("Retry-After", std::to_string(error.retry_after_s));
  nlohmann::json body{{"error", {{"code", error.code}, {"message", error.what()}}}};
  res.set_content(body.dump(), "application/json");
}

ApiError from_command_error(const CommandError& error) {
  switch (error.code) {
    case CommandErrorCode::validation_failed: {
      const std::string& reason = error.reason.empty() ? std::string("rejected") : error.reason;
      switch (bank::classify_rejection(reason)) {
        case bank::RejectionKind::not_found: return {404, reason, error.message};
        case bank::RejectionKind::invalid: return {422, reason, error.message};
        case bank::RejectionKind::stale_version: return {412, reason, error.message};
        case bank::RejectionKind::exists:
        case bank::RejectionKind::refused: return {409, reason, error.message};
      }
      break;
    }
    case CommandErrorCode::invalid_command:
      if (error.reason == "idempotency_key_reused")
        return {422, error.reason, "the Idempotency-Key was first used with another request; nothing was written"};
      break;
    case CommandErrorCode::concurrency_conflict:
      return {503, "conflict_retries_exhausted",
              "the accounts kept changing under the command (" + std::to_string(error.attempts) +
                  " attempts); try again",
              1};
    case CommandErrorCode::store_unavailable:
      return {503, "store_unavailable", "the store could not be reached; the outcome may be unknown: retry with "
                                        "the same Idempotency-Key", 1};
    case CommandErrorCode::timeout:
      return {503, "timeout", "the command did not finish in time; retry with the same Idempotency-Key", 1};
    default:
      break;
  }
  return {500, "internal", "internal error"};
}

}  // namespace eventcore::bank_service
