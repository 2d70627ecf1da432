#include "eventcore/bank_grpc/grpc_front.hpp"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "bank.grpc.pb.h"
#include "eventcore/bank/commands.hpp"
#include "eventcore/bank/rejections.hpp"
#include "eventcore/bank/request_fingerprint.hpp"
#include "eventcore/store/event_json.hpp"

namespace eventcore::bank_grpc {

namespace {

namespace pb = eventcore::bank::v1;

// A request the front refuses before running anything.
struct Refused {
  grpc::Status status;
};

bank::AccountId account(const std::string& text, const char* field) {
  auto id = bank::AccountId::try_new(text);
  if (!id) throw Refused{grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(field) + ": " + id.error().message)};
  return *id;
}

bank::Money money(std::int64_t cents) {
  auto amount = bank::Money::try_new(cents);
  if (!amount) throw Refused{grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "amount_cents: " + amount.error().message)};
  return *amount;
}

grpc::Status status_of(const CommandError& error) {
  using grpc::StatusCode;
  switch (error.code) {
    case CommandErrorCode::validation_failed:
      switch (bank::classify_rejection(error.reason)) {
        case bank::RejectionKind::not_found: return {StatusCode::NOT_FOUND, error.message};
        case bank::RejectionKind::invalid: return {StatusCode::INVALID_ARGUMENT, error.message};
        case bank::RejectionKind::exists: return {StatusCode::ALREADY_EXISTS, error.message};
        case bank::RejectionKind::stale_version:
        case bank::RejectionKind::refused: return {StatusCode::FAILED_PRECONDITION, error.message};
      }
      break;
    case CommandErrorCode::invalid_command:
      if (error.reason == "idempotency_key_reused")
        return {StatusCode::INVALID_ARGUMENT, "the idempotency_key was first used with another request; nothing was written"};
      break;
    case CommandErrorCode::concurrency_conflict:
      return {StatusCode::ABORTED, "the accounts kept changing under the command (" + std::to_string(error.attempts) +
                                       " attempts); try again"};
    case CommandErrorCode::store_unavailable:
      return {StatusCode::UNAVAILABLE,
              "the store could not be reached; the outcome may be unknown: retry with the same idempotency_key"};
    case CommandErrorCode::timeout:
      return {StatusCode::DEADLINE_EXCEEDED, "the command did not finish in time; retry with the same idempotency_key"};
    default:
      break;
  }
  return {StatusCode::INTERNAL, "internal error"};
}

}  // namespace

struct GrpcFront::Impl final : pb::Bank::Service {
  CommandExecutor executor;
  std::shared_ptr<EventStore> store;
  std::size_t max_page;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  bool stopped = false;

  Impl(CommandExecutor e, std::shared_ptr<EventStore> s, std::size_t page)
      : executor(std::move(e)), store(std::move(s)), max_page(page) {}

  // Runs a command for a call; the reply carries the versions and position it committed.
  template <class Command>
  grpc::Status write(grpc::ServerContext* context, std::string_view method, const google::protobuf::Message& request,
                     const std::string& key, Command command, pb::WriteReply* reply) {
    ExecuteOptions options;
    if (!key.empty()) {
      if (key.size() > 200)
        return {grpc::StatusCode::INVALID_ARGUMENT, "idempotency_key must be 1 to 200 bytes"};
      options.idempotency_key = key;
      options.fingerprint = bank::request_fingerprint({method, request.SerializeAsString()});
    }
    auto result = executor.execute_sync(std::move(command), std::move(options));
    if (!result) {
      if (!result.error().reason.empty()) context->AddTrailingMetadata("eventcore-reason", result.error().reason);
      return status_of(result.error());
    }
    for (const auto& sv : result->stream_versions) {
      auto* v = reply->add_versions();
      v->set_account(bank::AccountId::name_of(sv.stream).value_or(sv.stream.str()));
      v->set_version(sv.version.value);
    }
    if (!result->positions.empty()) reply->set_position(to_string(result->positions.back()));
    reply->set_replayed(result->replayed);
    if (result->replayed) context->AddTrailingMetadata("eventcore-replayed", "true");
    return grpc::Status::OK;
  }

  template <class F>
  static grpc::Status guarded(F&& f) {
    try {
      return f();
    } catch (const Refused& refused) {
      return refused.status;
    }
  }

  grpc::Status OpenAccount(grpc::ServerContext* context, const pb::OpenAccountRequest* request,
                           pb::WriteReply* reply) override {
    return guarded([&] {
      return write(context, "OpenAccount", *request, request->idempotency_key(),
                   bank::OpenAccount{account(request->account(), "account"), request->owner()}, reply);
    });
  }

  // Deposit and Withdraw: one request shape, two commands.
  template <class Command>
  grpc::Status money_command(grpc::ServerContext* context, std::string_view method, const pb::MoneyRequest* request,
                             pb::WriteReply* reply) {
    return guarded([&] {
      std::optional<std::uint64_t> expected;
      if (request->has_expected_version()) expected = request->expected_version();
      return write(context, method, *request, request->idempotency_key(),
                   Command{account(request->account(), "account"), money(request->amount_cents()), expected}, reply);
    });
  }

  grpc::Status Deposit(grpc::ServerContext* context, const pb::MoneyRequest* request, pb::WriteReply* reply) override {
    return money_command<bank::Deposit>(context, "Deposit", request, reply);
  }

  grpc::Status Withdraw(grpc::ServerContext* context, const pb::MoneyRequest* request, pb::WriteReply* reply) override {
    return money_command<bank::Withdraw>(context, "Withdraw", request, reply);
  }

  grpc::Status Transfer(grpc::ServerContext* context, const pb::TransferRequest* request,
                        pb::WriteReply* reply) override {
    return guarded([&] {
      return write(context, "Transfer", *request, request->idempotency_key(),
                   bank::TransferMoney{account(request->from(), "from"), account(request->to(), "to"),
                                       money(request->amount_cents()), request->reference()},
                   reply);
    });
  }

  grpc::Status ReadStream(grpc::ServerContext*, const pb::ReadStreamRequest* request,
                          pb::ReadStreamReply* reply) override {
    return guarded([&] {
      const auto id = account(request->account(), "account");
      const std::size_t limit = request->limit() == 0 ? max_page : std::min<std::size_t>(request->limit(), max_page);
      const StreamVersion from{std::max<std::uint64_t>(request->from_version(), 1)};
      auto page = store->read_stream(id.stream(), from, limit);
      if (!page) {
        const bool down = page.error().code == ErrorCode::unavailable || page.error().code == ErrorCode::timeout;
        return grpc::Status(down ? grpc::StatusCode::UNAVAILABLE : grpc::StatusCode::INTERNAL,
                            down ? "the store could not be reached" : "internal error");
      }
      if (page->events.empty() && from.value == 1)
        return grpc::Status(grpc::StatusCode::NOT_FOUND, "account " + id.str() + " is not open");
      for (const auto& e : page->events) {
        auto* out = reply->add_events();
        out->set_version(e.version.value);
        out->set_position(to_string(e.position));
        out->set_type(e.type);
        out->set_id(e.id.str());
        auto decoded = EventCodec<bank::Event>::decode(e);
        out->set_data_json(decoded ? EventJson<bank::Event>::to_json(*decoded) : std::string("null"));
      }
      reply->set_next_version(page->next.value);
      reply->set_end_of_stream(page->end_of_stream);
      return grpc::Status::OK;
    });
  }
};

GrpcFront::GrpcFront(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcFront::~GrpcFront() { shutdown(); }

Result<std::unique_ptr<GrpcFront>> GrpcFront::start(CommandExecutor executor, std::shared_ptr<EventStore> store,
                                                    const std::string& host, std::uint16_t port,
                                                    std::size_t max_page) {
  auto impl = std::make_unique<Impl>(std::move(executor), std::move(store), max_page);
  grpc::ServerBuilder builder;
  const std::string address = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                              std::to_string(port);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &impl->port);
  builder.RegisterService(impl.get());
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0)
    return Error{ErrorCode::unavailable, "cannot serve gRPC on " + address + " (taken, or not an address here)"};
  return std::unique_ptr<GrpcFront>(new GrpcFront(std::move(impl)));
}

std::uint16_t GrpcFront::port() const { return static_cast<std::uint16_t>(impl_->port); }

void GrpcFront::shutdown() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  impl_->server->Wait();
}

}  // namespace eventcore::bank_grpc
