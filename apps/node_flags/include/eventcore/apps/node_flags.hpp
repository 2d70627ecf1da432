#pragma once

// The TLS flags of a program that talks to other nodes (the service's
// gateway, the CLI's --connect): --tls-cert, --tls-key, --tls-ca, or their
// EVENTCORE_TLS_* variables. A key's passphrase comes from
// EVENTCORE_TLS_PASSPHRASE only, never a flag (flags show in `ps`).

#include <cstdlib>
#include <optional>

#include <CLI/CLI.hpp>

#include "eventcore/actors/remote.hpp"

namespace eventcore::apps {

inline void add_tls_flags(CLI::App& app, TlsConfig& tls) {
  app.add_option("--tls-cert", tls.certificate, "this node's certificate (PEM); with --tls-key and --tls-ca: mutual TLS")
      ->envname("EVENTCORE_TLS_CERT")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", tls.key, "its private key (PEM)")->envname("EVENTCORE_TLS_KEY")->check(CLI::ExistingFile);
  app.add_option("--tls-ca", tls.ca_file, "the CA that signs every node of the cluster (PEM)")
      ->envname("EVENTCORE_TLS_CA")
      ->check(CLI::ExistingFile);
}

// After parsing: none when no TLS flag was given, else all three (a usage
// error otherwise).
inline std::optional<TlsConfig> tls_from_flags(TlsConfig tls) {
  const int given = !tls.certificate.empty() + !tls.key.empty() + !tls.ca_file.empty();
  if (given == 0) return std::nullopt;
  if (given != 3) throw CLI::ValidationError("--tls-cert/--tls-key/--tls-ca", "mutual TLS needs all three");
  if (const char* passphrase = std::getenv("EVENTCORE_TLS_PASSPHRASE")) tls.passphrase = passphrase;
  return tls;
}

}  // namespace eventcore::apps
