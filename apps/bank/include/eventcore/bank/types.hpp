#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "eventcore/store/result.hpp"
#include "eventcore/store/stream_id.hpp"

namespace eventcore::bank {

// An amount of money in cents. A Money that exists is non-negative.
class Money {
 public:
  static Result<Money> try_new(std::int64_t cents);
  std::int64_t cents() const noexcept { return cents_; }
  friend auto operator<=>(const Money&, const Money&) = default;

 private:
  explicit Money(std::int64_t cents) : cents_(cents) {}
  std::int64_t cents_;
};

// An account number: 1 to 64 characters of [A-Za-z0-9_-]. Its stream is "account-<id>".
class AccountId {
 public:
  static Result<AccountId> try_new(std::string_view value);
  const std::string& str() const noexcept { return value_; }
  StreamId stream() const;
  // The account a stream belongs to ("account-<id>" -> "<id>"), or none.
  static std::optional<std::string> name_of(const StreamId& stream);
  friend bool operator==(const AccountId&, const AccountId&) = default;
  friend auto operator<=>(const AccountId&, const AccountId&) = default;

 private:
  explicit AccountId(std::string value) : value_(std::move(value)) {}
  std::string value_;
};

}  // namespace eventcore::bank
