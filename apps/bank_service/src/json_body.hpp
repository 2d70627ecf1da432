#pragma once

// A request's JSON body, checked: 415 unless it is application/json, 400
// when it does not parse or a field has the wrong type, 422 when a required
// field is missing or its value is invalid. Throws ApiError.

#include <httplib.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api_error.hpp"
#include "eventcore/bank/types.hpp"

namespace eventcore::bank_service {

class JsonBody {
 public:
  explicit JsonBody(const httplib::Request& req);

  std::string string(const char* field) const;                      // required
  std::optional<std::string> optional_string(const char* field) const;
  bank::Money amount(const char* field) const;                      // required, cents >= 0
  // required, an integer in [min, max]
  std::int64_t integer(const char* field, std::int64_t min, std::int64_t max) const;
  // `value` (named `where` in errors) as an integer in [min, max]: 400 when it is no integer, 422 out of range.
  static std::int64_t checked_integer(const nlohmann::json& value, const std::string& where, std::int64_t min,
                                      std::int64_t max);
  // required, an array
  const nlohmann::json& array(const char* field) const;
  static bank::AccountId account(const std::string& value, const char* where);
  // An order, approver or SKU id: 1 to 64 bytes of letters, digits, '.', '_' and '-'.
  static std::string id(const std::string& value, const char* where);

 private:
  const nlohmann::json* find(const char* field) const;
  nlohmann::json json_;
};

}  // namespace eventcore::bank_service
