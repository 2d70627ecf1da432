// The routes of the bank service (see service.hpp).

#include "eventcore/bank_service/service.hpp"

#include <httplib.h>

#include <charconv>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "api_error.hpp"
#include "balances.hpp"
#include "eventcore/actors/logging.hpp"
#include "eventcore/bank/commands.hpp"
#include "eventcore/bank/request_fingerprint.hpp"
#include "eventcore/orders/orders.hpp"
#include "eventcore/store/event_json.hpp"
#include "json_body.hpp"
#include "service_metrics.hpp"

namespace eventcore::bank_service {

namespace {

using nlohmann::json;
constexpr const char* projection_name = "balances";

// The route pattern and arrival time of the request this thread is
// answering, for the metrics (httplib answers a request on one thread: its
// pre-routing handler, the route's handler and its logger).
thread_local std::string current_route;
thread_local std::chrono::steady_clock::time_point current_start;
// The command the request ran, for its log line ("" when it ran none).
thread_local std::string current_outcome;
thread_local std::size_t current_attempts = 0;

std::uint64_t query_number(const httplib::Request& req, const char* name, std::uint64_t fallback, std::uint64_t min,
                           std::uint64_t max) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  std::uint64_t value = 0;
  try {
    std::size_t used = 0;
    value = std::stoull(text, &used);
    if (used != text.size() || text.front() == '-') throw std::invalid_argument(text);
  } catch (const std::exception&) {
    throw ApiError(400, "wrong_type", std::string("query parameter '") + name + "' must be a number, not '" + text + "'");
  }
  if (value < min || value > max)
    throw ApiError(422, "invalid_field", std::string("query parameter '") + name + "' must be " + std::to_string(min) +
                                             " to " + std::to_string(max));
  return value;
}

// The event's fields as JSON (an event of the domain's variant), or its type and size.
template <class Variant>
json render_event(const StoredEvent& stored) {
  json out{{"version", stored.version.value},
           {"position", to_string(stored.position)},
           {"type", stored.type},
           {"recorded_at_us", stored.recorded_at.time_since_epoch().count()}};
  if (auto data = EventJson<Variant>::to_json(stored.type, stored.payload)) {
    out["data"] = json::parse(*data);
  } else {
    out["data"] = nullptr;
    out["payload_bytes"] = stored.payload.size();
  }
  return out;
}

// An order line from the body: {"sku", "quantity", "unit_cents"}, bounded so
// that an order's total fits in 64-bit cents (100 lines of 10^6 x 10^10).
orders::Line order_line(const json& line, std::size_t index) {
  const std::string where = "lines[" + std::to_string(index) + "]";
  if (!line.is_object()) throw ApiError(400, "wrong_type", where + " must be an object");
  auto field = [&](const char* name) -> const json& {
    auto it = line.find(name);
    if (it == line.end() || it->is_null())
      throw ApiError(422, "missing_field", where + "." + name + " is required");
    return *it;
  };
  auto integer = [&](const char* name, std::int64_t max) {
    return JsonBody::checked_integer(field(name), where + "." + name, 1, max);
  };
  const json& sku = field("sku");
  if (!sku.is_string()) throw ApiError(400, "wrong_type", where + ".sku must be a string");
  return orders::Line{JsonBody::id(sku.get<std::string>(), (where + ".sku").c_str()), integer("quantity", 1'000'000),
                      integer("unit_cents", 10'000'000'000)};
}

// If-Match on a write to one account: the ETag of a read ("4", W/"4"), or *
// (any version: no check). 400 for anything else.
std::optional<std::uint64_t> if_match(const httplib::Request& req) {
  if (!req.has_header("If-Match")) return std::nullopt;
  std::string tag = req.get_header_value("If-Match");
  if (tag == "*") return std::nullopt;
  if (tag.rfind("W/", 0) == 0) tag = tag.substr(2);
  std::uint64_t version = 0;
  const bool quoted = tag.size() >= 3 && tag.front() == '"' && tag.back() == '"';
  const char* end = tag.data() + tag.size() - (quoted ? 1 : 0);
  if (!quoted || std::from_chars(tag.data() + 1, end, version).ptr != end)
    throw ApiError(400, "wrong_type", "the If-Match header must be an ETag of this service (\"4\") or *, not " + tag);
  return version;
}

// Marks an Idempotency-Key as running for the life of the object: a second
// request under the same key meanwhile is refused (409) instead of racing it.
class RunningKey {
 public:
  RunningKey(std::mutex& mutex, std::set<std::string>& keys, std::string key)
      : mutex_(mutex), keys_(keys), key_(std::move(key)) {
    std::lock_guard lock(mutex_);
    if (!keys_.insert(key_).second)
      throw ApiError(409, "request_in_progress",
                     "a request with this Idempotency-Key is still running; retry when it has answered");
  }
  ~RunningKey() {
    std::lock_guard lock(mutex_);
    keys_.erase(key_);
  }
  RunningKey(const RunningKey&) = delete;
  RunningKey& operator=(const RunningKey&) = delete;

 private:
  std::mutex& mutex_;
  std::set<std::string>& keys_;
  std::string key_;
};

}  // namespace

struct BankService::Impl {
  caf::actor_system& system;
  std::shared_ptr<EventStore> store;
  CommandExecutor executor;
  ServiceConfig config;
  std::unique_ptr<projections::ProjectionRuntime> projections;
  httplib::Server server;
  std::mutex keys_mutex;
  std::set<std::string> running_keys;
  std::mutex stop_mutex;
  bool stopped = false;
  ServiceMetrics metrics;

  Impl(caf::actor_system& sys, std::shared_ptr<EventStore> s, CommandExecutor e, ServiceConfig c)
      : system(sys), store(std::move(s)), executor(std::move(e)), config(c) {}

  std::shared_ptr<Balances> balances() const {
    return std::dynamic_pointer_cast<Balances>(projections->instance(projection_name));
  }

  // Runs a command with the request's Idempotency-Key and answers with the
  // versions and position it committed.
  template <class Command>
  void write(const httplib::Request& req, httplib::Response& res, Command command, int status) {
    ExecuteOptions options;
    std::optional<RunningKey> running;
    if (req.has_header("Idempotency-Key")) {
      std::string key = req.get_header_value("Idempotency-Key");
      if (key.empty() || key.size() > 200)
        throw ApiError(422, "invalid_field", "the Idempotency-Key header must be 1 to 200 bytes");
      running.emplace(keys_mutex, running_keys, key);
      options.idempotency_key = std::move(key);
      options.fingerprint = bank::request_fingerprint({req.method, req.path, req.body});
    }
    auto result = executor.execute_sync(std::move(command), std::move(options));
    current_outcome = result ? (result->replayed ? "replayed" : "ok") : std::string(to_string(result.error().code));
    current_attempts = result ? result->attempts : result.error().attempts;
    if (!result) throw from_command_error(result.error());
    const CommandResult& done = result.value();
    json versions = json::object();
    for (const auto& sv : done.stream_versions)
      versions[bank::AccountId::name_of(sv.stream).value_or(sv.stream.str())] = sv.version.value;
    json body{{"versions", versions}};
    body["position"] = done.positions.empty() ? json(nullptr) : json(to_string(done.positions.back()));
    // A replay answers with the first execution's body; the header says it is one.
    if (done.replayed) res.set_header("Idempotency-Replayed", "true");
    res.status = status;
    res.set_content(body.dump(), "application/json");
  }

  void get_account(const httplib::Request& req, httplib::Response& res) {
    const auto account = JsonBody::account(req.matches[1].str(), "account id in the path");
    if (req.has_param("min_position")) {
      const std::string text = req.get_param_value("min_position");
      auto wanted = parse_global_position(text);
      if (!wanted)
        throw ApiError(400, "wrong_type", "query parameter 'min_position' must be a position like 12:34, not '" +
                                              text + "'");
      if (auto reached = projections->wait_until_caught_up(projection_name, *wanted, config.max_read_wait); !reached)
        throw ApiError(503, "read_model_behind", reached.error().message, 1);
    }
    auto view = balances()->find(account.str());
    if (!view) throw ApiError(404, "account_not_found", "account " + account.str() + " is not open");
    json body{{"account", account.str()},
              {"balance_cents", view->balance_cents},
              {"version", view->version},
              {"position", to_string(view->position)}};
    res.set_header("ETag", "\"" + std::to_string(view->version) + "\"");
    res.set_content(body.dump(), "application/json");
  }

  // A stream, paged: GET .../events?from=V&limit=N, each event rendered by `render`.
  void get_events(const httplib::Request& req, httplib::Response& res, const StreamId& stream, const std::string& key,
                  const std::string& id, const std::string& missing, json (*render)(const StoredEvent&)) {
    const auto from = query_number(req, "from", 1, 1, ~std::uint64_t{0} >> 1);
    const auto limit = query_number(req, "limit", 100, 1, config.max_page);
    auto page = store->read_stream(stream, StreamVersion{from}, limit);
    if (!page) {
      if (page.error().code == ErrorCode::unavailable)
        throw ApiError(503, "store_unavailable", "the store could not be reached", 1);
      throw ApiError(500, "internal", "internal error");
    }
    if (page->empty() && from == 1) throw ApiError(404, missing, key + " " + id + " has no events");
    json events = json::array();
    for (const auto& e : page->events) events.push_back(render(e));
    json body{{key, id}, {"events", events}, {"next", page->next.value}, {"end", page->end_of_stream}};
    res.set_content(body.dump(), "application/json");
  }

  void health(httplib::Response& res) {
    json body;
    bool ready = true;
    auto probe = store->stream_version(StreamId::try_new("health-probe").value());
    body["store"] = probe ? json{{"ok", true}} : json{{"ok", false}, {"error", probe.error().message}};
    ready = ready && probe.ok();
    auto status = projections->status(projection_name, std::chrono::seconds(2));
    if (status) {
      const auto state = status->state;
      const bool running = state == projections::ProjectionState::running ||
                           state == projections::ProjectionState::catching_up;
      ready = ready && running;
      body["projections"] = json::array({json{{"name", status->name},
                                              {"state", std::string(to_string(state))},
                                              {"position", to_string(status->position)},
                                              {"lag_events", status->lag_events},
                                              {"lag_ms", status->lag_ms},
                                              {"held_back_events", status->held_back_events},
                                              {"error", status->error}}});
    } else {
      ready = false;
      body["projections"] = json::array({json{{"name", projection_name}, {"error", status.error().message}}});
    }
    body["status"] = ready ? "ready" : "unavailable";
    res.status = ready ? 200 : 503;
    res.set_content(body.dump(), "application/json");
  }

  // Every route answers through this: ApiError becomes its body, anything
  // else a 500 without internals (the details go to stderr).
  template <class F>
  httplib::Server::Handler route(std::string name, F f) {
    return [f, name = std::move(name)](const httplib::Request& req, httplib::Response& res) {
      current_route = name;
      try {
        f(req, res);
      } catch (const ApiError& e) {
        send(res, e);
      } catch (const std::exception& e) {
        log_fields(LogLevel::error, "internal error", {{"method", req.method}, {"path", req.path}, {"error", e.what()}});
        send(res, ApiError(500, "internal", "internal error"));
      }
    };
  }

  // The orders example: approvers with a limit, stock per SKU, orders, and
  // ApproveOrder across the order, its approver and every SKU it reserves.
  void order_routes() {
    server.Post("/approvers", route("/approvers", [this](const httplib::Request& req, httplib::Response& res) {
      JsonBody body(req);
      write(req, res,
            orders::RegisterApprover{JsonBody::id(body.string("id"), "field 'id'"),
                                     body.integer("limit_cents", 0, std::int64_t{1} << 62)},
            201);
    }));
    server.Post(R"(/inventory/([^/]+)/stock)", route("/inventory/{sku}/stock", [this](const httplib::Request& req, httplib::Response& res) {
      const auto sku = JsonBody::id(req.matches[1].str(), "sku in the path");
      JsonBody body(req);
      write(req, res, orders::AddStock{sku, body.integer("quantity", 1, 1'000'000'000)}, 200);
    }));
    server.Post("/orders", route("/orders", [this](const httplib::Request& req, httplib::Response& res) {
      JsonBody body(req);
      const auto id = JsonBody::id(body.string("id"), "field 'id'");
      const auto& lines = body.array("lines");
      if (lines.empty() || lines.size() > 100) throw ApiError(422, "invalid_field", "an order has 1 to 100 lines");
      std::vector<orders::Line> parsed;
      for (std::size_t i = 0; i < lines.size(); ++i) parsed.push_back(order_line(lines[i], i));
      write(req, res, orders::PlaceOrder{id, std::move(parsed)}, 201);
    }));
    server.Post(R"(/orders/([^/]+)/approval)", route("/orders/{id}/approval", [this](const httplib::Request& req, httplib::Response& res) {
      const auto id = JsonBody::id(req.matches[1].str(), "order id in the path");
      JsonBody body(req);
      write(req, res, orders::ApproveOrder{id, JsonBody::id(body.string("approver"), "field 'approver'")}, 200);
    }));
    server.Get(R"(/orders/([^/]+)/events)", route("/orders/{id}/events", [this](const httplib::Request& req, httplib::Response& res) {
      const auto id = JsonBody::id(req.matches[1].str(), "order id in the path");
      get_events(req, res, orders::order_stream(id), "order", id, "order_not_found", render_event<orders::Event>);
    }));
  }

  void routes() {
    server.set_payload_max_length(config.max_body_bytes);
    server.new_task_queue = [threads = config.http_threads] { return new httplib::ThreadPool(threads); };
    server.set_keep_alive_max_count(config.keep_alive_requests);
    // httplib writes headers and body separately: with Nagle's algorithm the
    // body waits for the client's delayed ACK (about 40 ms per request).
    server.set_tcp_nodelay(true);
    server.Post("/accounts", route("/accounts", [this](const httplib::Request& req, httplib::Response& res) {
      JsonBody body(req);
      const auto account = JsonBody::account(body.string("id"), "field 'id'");
      write(req, res, bank::OpenAccount{account, body.optional_string("owner").value_or("")}, 201);
    }));
    server.Post(R"(/accounts/([^/]+)/deposits)", route("/accounts/{id}/deposits", [this](const httplib::Request& req, httplib::Response& res) {
      const auto account = JsonBody::account(req.matches[1].str(), "account id in the path");
      JsonBody body(req);
      write(req, res, bank::Deposit{account, body.amount("amount_cents"), if_match(req)}, 200);
    }));
    server.Post(R"(/accounts/([^/]+)/withdrawals)", route("/accounts/{id}/withdrawals", [this](const httplib::Request& req, httplib::Response& res) {
      const auto account = JsonBody::account(req.matches[1].str(), "account id in the path");
      JsonBody body(req);
      write(req, res, bank::Withdraw{account, body.amount("amount_cents"), if_match(req)}, 200);
    }));
    server.Post("/transfers", route("/transfers", [this](const httplib::Request& req, httplib::Response& res) {
      JsonBody body(req);
      write(req, res,
            bank::TransferMoney{JsonBody::account(body.string("from"), "field 'from'"),
                                JsonBody::account(body.string("to"), "field 'to'"), body.amount("amount_cents"),
                                body.optional_string("reference").value_or("")},
            200);
    }));
    server.Get(R"(/accounts/([^/]+))", route("/accounts/{id}", [this](const httplib::Request& req, httplib::Response& res) {
      get_account(req, res);
    }));
    server.Get(R"(/accounts/([^/]+)/events)", route("/accounts/{id}/events", [this](const httplib::Request& req, httplib::Response& res) {
      const auto account = JsonBody::account(req.matches[1].str(), "account id in the path");
      get_events(req, res, account.stream(), "account", account.str(), "account_not_found", render_event<bank::Event>);
    }));
    order_routes();
    server.Get("/health", route("/health", [this](const httplib::Request&, httplib::Response& res) { health(res); }));
    server.Get("/metrics", route("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      if (auto status = projections->status(projection_name, std::chrono::seconds(2))) metrics.record_projection(*status);
      res.set_content(metrics.render(*executor.metrics(), *store), "text/plain; version=0.0.4");
    }));
    server.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
      current_route = "unmatched";
      current_start = std::chrono::steady_clock::now();
      current_outcome.clear();
      current_attempts = 0;
      return httplib::Server::HandlerResponse::Unhandled;
    });
    // One line per request (info): method, route, path, status, latency and
    // the command's outcome and attempts. Paths hold account ids, never secrets.
    server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      const auto latency = std::chrono::steady_clock::now() - current_start;
      const std::string& route = current_route.empty() ? std::string("unmatched") : current_route;
      metrics.record_request(route, req.method, res.status, latency);
      log_fields(LogLevel::info, "request",
                 {{"method", req.method},
                  {"route", route},
                  {"path", req.path},
                  {"status", std::int64_t{res.status}},
                  {"latency_ms", std::chrono::duration<double, std::milli>(latency).count()},
                  {"outcome", current_outcome.empty() ? std::string_view("-") : std::string_view(current_outcome)},
                  {"attempts", static_cast<std::int64_t>(current_attempts)}});
    });
    // What httplib answers itself (no route, a body over the limit, a bad
    // request line) gets the same error body.
    server.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      switch (res.status) {
        case 404: send(res, ApiError(404, "not_found", "no route for " + req.method + " " + req.path)); break;
        case 413:
          send(res, ApiError(413, "payload_too_large",
                             "the body is over " + std::to_string(config.max_body_bytes) + " bytes"));
          break;
        default: send(res, ApiError(res.status, "http_" + std::to_string(res.status), "the request was refused"));
      }
    });
  }
};

BankService::BankService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BankService::~BankService() { stop(); }

Result<std::unique_ptr<BankService>> BankService::create(caf::actor_system& system, std::shared_ptr<EventStore> store,
                                                         CommandExecutor executor, ServiceConfig config) {
  auto impl = std::make_unique<Impl>(system, store, std::move(executor), config);
  auto runtime = projections::ProjectionRuntime::start(system, store);
  if (!runtime) return runtime.error();
  impl->projections = std::move(runtime).value();
  if (auto added = impl->projections->add({.name = projection_name, .filter = {.stream_prefix = "account-"}},
                                          [] { return std::make_unique<Balances>(); });
      !added)
    return added.error();
  impl->routes();
  return std::unique_ptr<BankService>(new BankService(std::move(impl)));
}

Result<int> BankService::bind(const std::string& host, int port) {
  auto& server = impl_->server;
  if (port == 0) {
    const int bound = server.bind_to_any_port(host);
    if (bound < 0) return Error{ErrorCode::unavailable, "cannot listen on " + host + " (any port)"};
    return bound;
  }
  if (!server.bind_to_port(host, port))
    return Error{ErrorCode::unavailable, "cannot listen on " + host + ":" + std::to_string(port)};
  return port;
}

void BankService::serve() { impl_->server.listen_after_bind(); }

void BankService::stop() {
  std::lock_guard lock(impl_->stop_mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->server.stop();
  impl_->projections->stop();
}

}  // namespace eventcore::bank_service
