// The bank over gRPC end to end: eventcore-bank-service --grpc in a child
// process on PostgreSQL, called through the stub generated from
// apps/bank_grpc/proto/bank.proto; every call bounded by a deadline.

#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include <nlohmann/json.hpp>

#include "bank.grpc.pb.h"
#include "eventcore/testing/child_process.hpp"
#include "eventcore/testing/require_postgres.hpp"
#include "eventcore/testing/test_database.hpp"

using namespace eventcore;
namespace pb = eventcore::bank::v1;

namespace {

struct Call {
  grpc::Status status;
  std::multimap<std::string, std::string> trailers;  // copied: the context's views die with it
  std::string reason() const {
    auto it = trailers.find("eventcore-reason");
    return it == trailers.end() ? std::string() : it->second;
  }
};

class Client {
 public:
  explicit Client(int port)
      : stub_(pb::Bank::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                    grpc::InsecureChannelCredentials()))) {}

  template <class Request, class Reply, class Method>
  Call call(Method method, const Request& request, Reply* reply) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    Call out;
    out.status = ((*stub_).*method)(&context, request, reply);
    for (const auto& [key, value] : context.GetServerTrailingMetadata())
      out.trailers.emplace(std::string(key.data(), key.size()), std::string(value.data(), value.size()));
    return out;
  }
  Call open(const std::string& account, const std::string& key = {}) {
    pb::OpenAccountRequest r;
    r.set_account(account);
    r.set_owner("owner of " + account);
    r.set_idempotency_key(key);
    pb::WriteReply reply;
    return call(&pb::Bank::Stub::OpenAccount, r, &reply);
  }
  Call deposit(const std::string& account, std::int64_t cents, pb::WriteReply* reply, const std::string& key = {},
               std::optional<std::uint64_t> expected = {}) {
    pb::MoneyRequest r;
    r.set_account(account);
    r.set_amount_cents(cents);
    r.set_idempotency_key(key);
    if (expected) r.set_expected_version(*expected);
    return call(&pb::Bank::Stub::Deposit, r, reply);
  }
  Call transfer(const std::string& from, const std::string& to, std::int64_t cents, pb::WriteReply* reply) {
    pb::TransferRequest r;
    r.set_from(from);
    r.set_to(to);
    r.set_amount_cents(cents);
    r.set_reference("grpc");
    return call(&pb::Bank::Stub::Transfer, r, reply);
  }

 private:
  std::unique_ptr<pb::Bank::Stub> stub_;
};

}  // namespace

TEST_CASE("gRPC: the bank's commands and stream reads, with the HTTP service's semantics as status codes") {
  EVENTCORE_REQUIRE_POSTGRES();
  testing::ScopedSchema schema("grpc");
  testing::ChildProcess service(EVENTCORE_BANK_SERVICE,
                                {"--listen", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--database",
                                 testing::test_database_url(), "--schema", schema.name(), "--log-level", "warn"},
                                "grpc on 127.0.0.1:");
  Client client(service.port());

  REQUIRE(client.open("ada").status.ok());
  REQUIRE(client.open("bob").status.ok());
  auto again = client.open("ada");
  CHECK(again.status.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(again.reason() == "account_exists");

  pb::WriteReply deposited;
  auto first = client.deposit("ada", 1000, &deposited, "dep-1");
  REQUIRE(first.status.ok());
  REQUIRE(deposited.versions_size() == 1);
  CHECK(deposited.versions(0).account() == "ada");
  CHECK(deposited.versions(0).version() == 2);
  CHECK_FALSE(deposited.position().empty());
  CHECK_FALSE(deposited.replayed());
  pb::WriteReply replay;
  auto second = client.deposit("ada", 1000, &replay, "dep-1");
  REQUIRE(second.status.ok());
  CHECK(replay.replayed());
  CHECK(second.trailers.count("eventcore-replayed") == 1);
  CHECK(replay.position() == deposited.position());
  pb::WriteReply other;
  auto reused = client.deposit("ada", 999, &other, "dep-1");  // another request under the key
  CHECK(reused.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);

  pb::WriteReply moved;
  REQUIRE(client.transfer("ada", "bob", 400, &moved).status.ok());
  CHECK(moved.versions_size() == 2);
  pb::WriteReply refused;
  auto overdraft = client.transfer("ada", "bob", 601, &refused);
  CHECK(overdraft.status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(overdraft.reason() == "insufficient_funds");
  auto unknown = client.transfer("ada", "carol", 1, &refused);
  CHECK(unknown.status.error_code() == grpc::StatusCode::NOT_FOUND);
  auto same = client.transfer("ada", "ada", 1, &refused);
  CHECK(same.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  auto bad_id = client.transfer("ada", "no such id!", 1, &refused);
  CHECK(bad_id.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(bad_id.status.error_message().find("to: ") == 0);
  auto negative = client.deposit("ada", -5, &refused);
  CHECK(negative.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  auto stale = client.deposit("ada", 1, &refused, {}, 1);
  CHECK(stale.status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(stale.reason() == "version_mismatch");

  Client reader(service.port());
  pb::ReadStreamRequest read;
  read.set_account("ada");
  read.set_limit(2);
  pb::ReadStreamReply page;
  REQUIRE(reader.call(&pb::Bank::Stub::ReadStream, read, &page).status.ok());
  REQUIRE(page.events_size() == 2);
  CHECK(page.events(0).type() == "AccountOpened");
  CHECK(page.events(1).version() == 2);
  CHECK(nlohmann::json::parse(page.events(1).data_json())["cents"] == 1000);
  CHECK_FALSE(page.end_of_stream());
  read.set_from_version(page.next_version());
  read.set_limit(0);
  REQUIRE(reader.call(&pb::Bank::Stub::ReadStream, read, &page).status.ok());
  CHECK(page.events_size() == 1);  // the transfer's withdrawal
  CHECK(page.end_of_stream());
  read.set_account("carol");
  read.set_from_version(0);
  CHECK(reader.call(&pb::Bank::Stub::ReadStream, read, &page).status.error_code() == grpc::StatusCode::NOT_FOUND);

  CHECK(service.stop(SIGTERM) == 0);
  // A node that is gone: UNAVAILABLE within the deadline.
  pb::WriteReply none;
  CHECK(client.deposit("ada", 1, &none).status.error_code() == grpc::StatusCode::UNAVAILABLE);
}
