// The log's two formats: every line is one line, values are escaped, and a
// JSON line parses with its fields.

#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eventcore/actors/logging.hpp"

using namespace eventcore;

namespace {

// Captures what the logger writes to stderr while `f` runs.
template <class F>
std::vector<std::string> captured_lines(F f) {
  std::fflush(stderr);
  char path[] = "/tmp/eventcore-log-XXXXXX";
  const int file = ::mkstemp(path);
  REQUIRE(file >= 0);
  const int saved = ::dup(2);
  ::dup2(file, 2);
  f();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::remove(path);
  return lines;
}

const char* const hostile = "bad \"quote\"\nsecond line\\ end";

}  // namespace

TEST_CASE("text log lines escape values, so a message cannot break or forge a line", "[logging]") {
  auto lines = captured_lines([] {
    configure_logging({LogFormat::text, LogLevel::info});
    log_fields(LogLevel::info, "request", {{"method", "POST"}, {"status", std::int64_t{201}}, {"error", hostile}});
    detail::log_command(LogLevel::info, {.command = "Deposit", .outcome = "validation_failed", .attempts = 1,
                                         .error = hostile});
    configure_logging({LogFormat::text, LogLevel::off});
  });
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find("request method=POST status=201 error=\"bad \\\"quote\\\"\\nsecond line\\\\ end\"") !=
        std::string::npos);
  CHECK(lines[1].find("command command=Deposit outcome=validation_failed attempts=1") != std::string::npos);
  CHECK(lines[1].find("error=\"bad \\\"quote\\\"\\nsecond line\\\\ end\"") != std::string::npos);
}

TEST_CASE("JSON log lines parse, with the message and every field as members", "[logging]") {
  auto lines = captured_lines([] {
    configure_logging({LogFormat::json, LogLevel::debug});
    log_fields(LogLevel::info, "request",
               {{"method", "GET"}, {"status", std::int64_t{404}}, {"latency_ms", 1.5}, {"replayed", false},
                {"error", hostile}});
    detail::log_command(LogLevel::debug, {.command = "TransferMoney", .outcome = "ok", .attempts = 2,
                                          .events_written = 2, .total = std::chrono::microseconds(1234)});
    log_fields(LogLevel::trace, "hidden", {});  // below the level: not written
    configure_logging({LogFormat::text, LogLevel::off});
  });
  REQUIRE(lines.size() == 2);
  const auto request = nlohmann::json::parse(lines[0]);
  CHECK(request["level"] == "info");
  CHECK(request["msg"] == "request");
  CHECK(request["method"] == "GET");
  CHECK(request["status"] == 404);
  CHECK(request["latency_ms"] == 1.5);
  CHECK(request["replayed"] == false);
  CHECK(request["error"] == hostile);
  const auto command = nlohmann::json::parse(lines[1]);
  CHECK(command["msg"] == "command");
  CHECK(command["command"] == "TransferMoney");
  CHECK(command["attempts"] == 2);
  CHECK(command["total_us"] == 1234.0);
}
