#pragma once

#include <cstdint>

#include <cereal/cereal.hpp>
#include <string>
#include <string_view>
#include <variant>

namespace eventcore::bank {

struct AccountOpened {
  static constexpr std::string_view event_type = "AccountOpened";
  std::string account;
  std::string owner;
  template <class Archive> void serialize(Archive& ar) { ar(CEREAL_NVP(account), CEREAL_NVP(owner)); }
};
struct MoneyDeposited {
  static constexpr std::string_view event_type = "MoneyDeposited";
  std::string account;
  std::int64_t cents = 0;
  std::string reference;  // e.g. the transfer it belongs to
  template <class Archive> void serialize(Archive& ar) { ar(CEREAL_NVP(account), CEREAL_NVP(cents), CEREAL_NVP(reference)); }
};
struct MoneyWithdrawn {
  static constexpr std::string_view event_type = "MoneyWithdrawn";
  std::string account;
  std::int64_t cents = 0;
  std::string reference;
  template <class Archive> void serialize(Archive& ar) { ar(CEREAL_NVP(account), CEREAL_NVP(cents), CEREAL_NVP(reference)); }
};

using Event = std::variant<AccountOpened, MoneyDeposited, MoneyWithdrawn>;

}  // namespace eventcore::bank
