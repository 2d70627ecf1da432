#include "postgres_session.hpp"

namespace eventcore::pg {

namespace {
std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  return s;
}
}  // namespace

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Status Session::connect(const ConnectionSettings& settings) {
  close();
  auto conn = pg::connect(settings);
  if (!conn) return std::move(conn).error();
  conn_ = *conn;
  return {};
}

void Session::close() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

Rows Session::run(std::string_view sql, int n, const char* const* values) {
  if (!conn_) throw SqlFailure("no connection to PostgreSQL", true);
  const std::string text(sql);
  ResultPtr result(n == 0 ? PQexec(conn_, text.c_str())
                          : PQexecParams(conn_, text.c_str(), n, nullptr, values, nullptr, nullptr, 0));
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    std::string message = one_line(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn_));
    if (message.empty()) message = one_line(PQerrorMessage(conn_));
    const bool lost = connection_lost(conn_, result.get());
    if (lost) close();
    throw SqlFailure(message, lost);
  }
  Rows rows;
  const int nrows = PQntuples(result.get()), ncols = PQnfields(result.get());
  rows.reserve(static_cast<std::size_t>(nrows));
  for (int r = 0; r < nrows; ++r) {
    auto& row = rows.emplace_back();
    row.reserve(static_cast<std::size_t>(ncols));
    for (int c = 0; c < ncols; ++c)
      row.emplace_back(PQgetvalue(result.get(), r, c), static_cast<std::size_t>(PQgetlength(result.get(), r, c)));
  }
  return rows;
}

Rows Session::exec(std::string_view sql, std::initializer_list<std::optional<std::string_view>> params) {
  std::vector<std::optional<std::string>> owned;
  owned.reserve(params.size());
  for (const auto& p : params) owned.push_back(p ? std::optional<std::string>(*p) : std::nullopt);
  return exec(sql, owned);
}

Rows Session::exec(std::string_view sql, const std::vector<std::optional<std::string>>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return run(sql, static_cast<int>(values.size()), values.data());
}

void Session::rollback_if_open() {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE)
    ResultPtr(PQexec(conn_, "ROLLBACK"));
}

}  // namespace eventcore::pg
