#pragma once

// The bank as an HTTP/1.1 JSON service over the command runtime: the
// routes, their errors, and a read model of balances kept by a projection.
//
//   POST /accounts                      {"id": "ada", "owner": "Ada"}              -> 201
//   POST /accounts/{id}/deposits        {"amount_cents": 500, "reference": "..."}  -> 200
//   POST /accounts/{id}/withdrawals     {"amount_cents": 120}                      -> 200
//   POST /transfers                     {"from": "ada", "to": "bob", "amount_cents": 120, "reference": "..."}
//   GET  /accounts/{id}[?min_position=T:S]  balance and version from the read model, the position
//                                       it reflects; waits (bounded) until it reached min_position
//   GET  /accounts/{id}/events[?from=V&limit=N]  the account's stream, paged
//   POST /approvers                     {"id": "bob", "limit_cents": 10000}             -> 201  (the orders example)
//   POST /inventory/{sku}/stock         {"quantity": 5}                                  -> 200
//   POST /orders                        {"id": "o1", "lines": [{"sku": "a", "quantity": 2, "unit_cents": 1000}]} -> 201
//   POST /orders/{id}/approval          {"approver": "bob"}   -> 200: one atomic write over the order, the
//                                       approver and every SKU it reserves (streams found from the order)
//   GET  /orders/{id}/events[?from=V&limit=N]
//   GET  /health                        200 when the store answers and the projection runs, else 503
//   GET  /metrics                       Prometheus text format (requests by route and status with a
//                                       latency histogram, projection position, lag and stalls, and
//                                       the command runtime's counters and histograms)
//
// Reads answer with ETag: "<version>"; a deposit or withdrawal with
// If-Match: "<version>" is written only if the account is still at that
// version (412 version_mismatch otherwise; checked against concurrent writers).
// A write answers with the stream versions and the global position it
// committed (pass it as min_position to read your write). Errors are one
// body, {"error": {"code": "...", "message": "..."}}: 400 malformed JSON or a
// field of the wrong type, 422 a missing or invalid field (and an
// Idempotency-Key reused with another body), 404 an unknown account or
// route, 412 a stale If-Match, 409 a refused command (insufficient funds, an account that exists,
// a request still running under the same Idempotency-Key), 413 a body over
// the limit, 415 a body that is not application/json, 503 with Retry-After
// when conflicts exhausted the retries or the store is unavailable, 500 with
// no internals. An Idempotency-Key header makes a write idempotent end to
// end: a replay answers as the first execution did (same status and body,
// plus the header Idempotency-Replayed: true) and writes nothing.

#include <chrono>
#include <memory>
#include <string>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/projections/projection.hpp"
#include "eventcore/store/event_store.hpp"

namespace caf {
class actor_system;
}

namespace eventcore::bank_service {

struct ServiceConfig {
  std::size_t max_body_bytes = 64 * 1024;
  std::chrono::milliseconds max_read_wait{5000};  // longest a GET waits for min_position
  std::size_t max_page = 1000;                    // most events per GET .../events
  // Connections served at once: httplib holds a thread per connection for as
  // long as it is kept alive, and a write blocks its thread until the command
  // is done, so this bounds the clients in flight (8, httplib's default,
  // left half of 16 keep-alive clients waiting for a thread).
  std::size_t http_threads = 64;
  std::size_t keep_alive_requests = 1000;  // requests per connection before it is closed (httplib: 5)
};

class BankService {
 public:
  // Starts the balances projection on `store` (the executor's store).
  static Result<std::unique_ptr<BankService>> create(caf::actor_system& system, std::shared_ptr<EventStore> store,
                                                     CommandExecutor executor, ServiceConfig config = {});
  ~BankService();  // stop()

  // Binds host:port (port 0: a free one) and returns the port. Errors: unavailable.
  Result<int> bind(const std::string& host, int port);
  // Serves until stop(); requests in flight when stop() is called are answered.
  void serve();
  // Stops accepting, lets requests in flight finish, stops the projection. Idempotent.
  void stop();

  struct Impl;

 private:
  explicit BankService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace eventcore::bank_service
