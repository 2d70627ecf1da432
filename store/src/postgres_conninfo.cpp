// redact_conninfo: connection strings go into error messages and logs, their
// passwords never do.

#include <libpq-fe.h>

#include <cctype>
#include <set>
#include <string>
#include <string_view>

#include "eventcore/store/postgres_store.hpp"

namespace eventcore {

namespace {

constexpr std::string_view redacted = "***";

// The keywords libpq itself treats as secrets (dispchar "*": password,
// sslpassword, and whatever a later libpq adds), asked once.
bool is_secret(std::string_view key) {
  static const std::set<std::string, std::less<>> secrets = [] {
    std::set<std::string, std::less<>> out{"password", "sslpassword"};
    if (PQconninfoOption* options = PQconndefaults()) {
      for (PQconninfoOption* o = options; o->keyword; ++o)
        if (o->dispchar && o->dispchar[0] == '*') out.insert(o->keyword);
      PQconninfoFree(options);
    }
    return out;
  }();
  return secrets.contains(key);
}

bool is_uri(std::string_view s) {
  return s.starts_with("postgresql://") || s.starts_with("postgres://");
}

std::string redact_uri(std::string_view uri) {
  const std::size_t scheme_end = uri.find("://") + 3;
  std::string out(uri.substr(0, scheme_end));
  std::string_view rest = uri.substr(scheme_end);
  const std::size_t authority_end = std::min(rest.find_first_of("/?"), rest.size());
  std::string_view authority = rest.substr(0, authority_end);
  rest.remove_prefix(authority_end);
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    if (const std::size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
      out.append(userinfo.substr(0, colon + 1));
      out.append(redacted);
    } else {
      out.append(userinfo);
    }
    out.append(authority.substr(at));
  } else {
    out.append(authority);
  }
  const std::size_t query = rest.find('?');
  out.append(rest.substr(0, query));
  if (query == std::string_view::npos) return out;
  out.push_back('?');
  std::string_view params = rest.substr(query + 1);
  bool first = true;
  while (!params.empty() || first) {
    const std::size_t amp = std::min(params.find('&'), params.size());
    std::string_view param = params.substr(0, amp);
    if (!first) out.push_back('&');
    first = false;
    const std::size_t eq = param.find('=');
    if (eq != std::string_view::npos && is_secret(param.substr(0, eq))) {
      out.append(param.substr(0, eq + 1));
      out.append(redacted);
    } else {
      out.append(param);
    }
    if (amp == params.size()) break;
    params.remove_prefix(amp + 1);
  }
  return out;
}

// key = value pairs separated by whitespace; values may be single-quoted
// with backslash escapes (libpq's rules). Whatever does not parse is
// replaced wholesale: it might hold a password.
std::string redact_key_values(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  auto space = [&](std::size_t at) { return at < s.size() && std::isspace(static_cast<unsigned char>(s[at])); };
  while (i < s.size()) {
    const std::size_t start = i;
    while (space(i)) ++i;
    out.append(s.substr(start, i - start));
    if (i == s.size()) break;
    const std::size_t key_start = i;
    while (i < s.size() && s[i] != '=' && !space(i)) ++i;
    const std::string_view key = s.substr(key_start, i - key_start);
    while (space(i)) ++i;
    if (i == s.size() || s[i] != '=' || key.empty()) {
      out.append(redacted);
      return out;
    }
    ++i;
    while (space(i)) ++i;
    const std::size_t value_start = i;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      while (i < s.size() && s[i] != '\'') i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
      if (i >= s.size()) {  // unterminated quote
        out.append(s.substr(key_start, value_start - key_start));
        out.append(redacted);
        return out;
      }
      ++i;
    } else {
      while (i < s.size() && !space(i)) i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
    }
    std::string_view value = s.substr(value_start, std::min(i, s.size()) - value_start);
    out.append(s.substr(key_start, value_start - key_start));
    if (is_secret(key)) {
      out.append(redacted);
    } else if (key == "dbname") {
      // libpq expands a dbname that is itself a connection string.
      const bool quoted = value.size() >= 2 && value.front() == '\'';
      const std::string_view inner = quoted ? value.substr(1, value.size() - 2) : value;
      if (is_uri(inner) || inner.find('=') != std::string_view::npos) {
        if (quoted) out.push_back('\'');
        out.append(redact_conninfo(std::string(inner)));
        if (quoted) out.push_back('\'');
      } else {
        out.append(value);
      }
    } else {
      out.append(value);
    }
  }
  return out;
}

}  // namespace

std::string redact_conninfo(const std::string& conninfo) {
  if (is_uri(conninfo)) return redact_uri(conninfo);
  return redact_key_values(conninfo);
}

}  // namespace eventcore
