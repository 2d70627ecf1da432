#pragma once

// A program in a child process, for multi-process tests: stdout and stderr
// go to files; the constructor waits (bounded) for the line that says the
// program is ready and reads the port printed after it. The destructor
// kills what is still running.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace eventcore::testing {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ChildProcess {
 public:
  // Starts `path args...` and waits at most `wait` for `ready` (e.g.
  // "listening on http://127.0.0.1:") on its stdout; port() is the number
  // right after it. An empty `ready`: no wait (the caller polls).
  ChildProcess(std::string path, const std::vector<std::string>& args, std::string ready,
               std::chrono::milliseconds wait = std::chrono::seconds(10)) {
    static std::atomic<int> counter{0};
    const auto base = "/tmp/eventcore-child-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    out_ = base + ".out";
    err_ = base + ".err";
    pid_ = ::fork();
    if (pid_ == 0) {
      std::freopen(out_.c_str(), "w", stdout);
      std::freopen(err_.c_str(), "w", stderr);
      std::vector<std::string> copy = args;
      std::vector<char*> argv{path.data()};
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(path.c_str(), argv.data());
      ::_exit(127);
    }
    if (ready.empty()) return;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (port_ == 0 && std::chrono::steady_clock::now() < deadline) {
      const auto text = slurp(out_);
      if (auto at = text.find(ready); at != std::string::npos && text.find('\n', at) != std::string::npos)
        port_ = std::atoi(text.c_str() + at + ready.size());
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (port_ == 0) FAIL(path << " did not start within " << wait.count() << " ms: " << slurp(err_));
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::remove(out_.c_str());
    std::remove(err_.c_str());
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  void signal(int signal) const { ::kill(pid_, signal); }

  // Sends `signal` and waits (at most 30 s) for the exit status (128 + the
  // signal when a signal ended it).
  int stop(int signal) {
    ::kill(pid_, signal);
    for (int i = 0; i < 3000; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("the child did not exit within 30 s of signal " << signal);
    return -1;
  }
  std::string stdout_text() const { return slurp(out_); }
  std::string stderr_text() const { return slurp(err_); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string out_, err_;
};

}  // namespace eventcore::testing
