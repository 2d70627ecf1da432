#include "json_body.hpp"

#include <limits>

namespace eventcore::bank_service {

JsonBody::JsonBody(const httplib::Request& req) {
  const std::string type = req.get_header_value("Content-Type");
  const std::string media = type.substr(0, type.find(';'));
  if (media != "application/json")
    throw ApiError(415, "unsupported_media_type",
                   "the body must be application/json" + (type.empty() ? std::string() : ", not " + type));
  try {
    json_ = nlohmann::json::parse(req.body);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte says where; the library's message names what it expected.
    throw ApiError(400, "malformed_json", "the body is not JSON (at byte " + std::to_string(e.byte) + ")");
  }
  if (!json_.is_object()) throw ApiError(400, "malformed_json", "the body must be a JSON object");
}

const nlohmann::json* JsonBody::find(const char* field) const {
  auto it = json_.find(field);
  if (it == json_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string JsonBody::string(const char* field) const {
  auto value = optional_string(field);
  if (!value) throw ApiError(422, "missing_field", std::string("field '") + field + "' is required");
  return *value;
}

std::optional<std::string> JsonBody::optional_string(const char* field) const {
  const auto* value = find(field);
  if (!value) return std::nullopt;
  if (!value->is_string()) throw ApiError(400, "wrong_type", std::string("field '") + field + "' must be a string");
  return value->get<std::string>();
}

bank::Money JsonBody::amount(const char* field) const {
  const auto* value = find(field);
  if (!value) throw ApiError(422, "missing_field", std::string("field '") + field + "' is required");
  if (!value->is_number_integer())
    throw ApiError(400, "wrong_type", std::string("field '") + field + "' must be an integer number of cents");
  const auto cents = value->get<std::int64_t>();
  auto money = bank::Money::try_new(cents);
  if (!money) throw ApiError(422, "invalid_field", std::string("field '") + field + "': " + money.error().message);
  return *money;
}

std::int64_t JsonBody::checked_integer(const nlohmann::json& value, const std::string& where, std::int64_t min,
                                       std::int64_t max) {
  if (!value.is_number_integer()) throw ApiError(400, "wrong_type", where + " must be an integer");
  // nlohmann keeps a non-negative number as unsigned: one above INT64_MAX is out of any range here.
  const bool fits = !value.is_number_unsigned() ||
                    value.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  const std::int64_t n = fits ? value.get<std::int64_t>() : 0;
  if (!fits || n < min || n > max)
    throw ApiError(422, "invalid_field", where + " must be " + std::to_string(min) + " to " + std::to_string(max));
  return n;
}

std::int64_t JsonBody::integer(const char* field, std::int64_t min, std::int64_t max) const {
  const auto* value = find(field);
  if (!value) throw ApiError(422, "missing_field", std::string("field '") + field + "' is required");
  return checked_integer(*value, std::string("field '") + field + "'", min, max);
}

const nlohmann::json& JsonBody::array(const char* field) const {
  const auto* value = find(field);
  if (!value) throw ApiError(422, "missing_field", std::string("field '") + field + "' is required");
  if (!value->is_array()) throw ApiError(400, "wrong_type", std::string("field '") + field + "' must be an array");
  return *value;
}

std::string JsonBody::id(const std::string& value, const char* where) {
  const bool valid = !value.empty() && value.size() <= 64 &&
                     value.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
                         std::string::npos;
  if (!valid)
    throw ApiError(422, "invalid_field",
                   std::string(where) + " must be 1 to 64 letters, digits, '.', '_' or '-', not '" + value.substr(0, 80) + "'");
  return value;
}

bank::AccountId JsonBody::account(const std::string& value, const char* where) {
  auto id = bank::AccountId::try_new(value);
  if (!id) throw ApiError(422, "invalid_field", std::string(where) + ": " + id.error().message);
  return *id;
}

}  // namespace eventcore::bank_service
