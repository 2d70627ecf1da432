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
  static bank::AccountId account(const std::string& value, const char* where);

 private:
  const nlohmann::json* find(const char* field) const;
  nlohmann::json json_;
};

}  // namespace eventcore::bank_service
