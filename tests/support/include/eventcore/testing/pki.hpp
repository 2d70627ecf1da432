#pragma once

// A CA and node certificates it signs, made with the openssl command in a
// temporary folder at test time (no keys in the repository).

#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "eventcore/actors/remote.hpp"

namespace eventcore::testing {

class Pki {
 public:
  Pki() {
    dir_ = std::filesystem::temp_directory_path() / ("eventcore-pki-" + std::to_string(::getpid()) + "-" +
                                                     std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
  }
  ~Pki() { std::filesystem::remove_all(dir_); }

  // A CA named `ca` (ca.pem, ca.key).
  std::string make_ca(const std::string& ca) {
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=" + ca +
        " -keyout " + path(ca + ".key") + " -out " + path(ca + ".pem"));
    return path(ca + ".pem");
  }
  // A node certificate signed by `ca`; the node trusts `trusted_ca` (by
  // default the same CA).
  TlsConfig node(const std::string& name, const std::string& ca, const std::string& trusted_ca = {}) {
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=" + name + " -keyout " +
        path(name + ".key") + " -out " + path(name + ".csr"));
    run("openssl x509 -req -days 1 -in " + path(name + ".csr") + " -CA " + path(ca + ".pem") + " -CAkey " +
        path(ca + ".key") + " -CAcreateserial -out " + path(name + ".pem"));
    return TlsConfig{path(name + ".pem"), path(name + ".key"), path((trusted_ca.empty() ? ca : trusted_ca) + ".pem"),
                     {}};
  }
  std::string path(const std::string& file) const { return (dir_ / file).string(); }

 private:
  static void run(const std::string& command) {
    INFO(command);
    REQUIRE(std::system((command + " >/dev/null 2>&1").c_str()) == 0);
  }
  static inline std::atomic<int> counter_{0};
  std::filesystem::path dir_;
};

}  // namespace eventcore::testing
