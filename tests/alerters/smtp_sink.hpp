#pragma once
/// A real SMTP server for tests: tests/alerters/smtp_sink.py (Debian's
/// python3-aiosmtpd, run with /usr/bin/python3) on 127.0.0.1, started as a
/// child process and killed when the object goes away. Each accepted message
/// is read back exactly as it arrived.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace gotel::test {

struct received_mail {
  std::string mail_from;
  std::string rcpt_to;
  bool authenticated = false;
  std::string data;  ///< the DATA content, byte for byte
};

class smtp_sink {
 public:
  /// `auth` "user:pass" makes AUTH required (over plain TCP, as relays on a
  /// trusted network do); empty = a relay that offers no AUTH.
  explicit smtp_sink(const std::string& auth = {}) {
    std::string tmpl = "/tmp/gotel-smtp-XXXXXX";
    dir_ = ::mkdtemp(tmpl.data());
    std::string script = std::string{GOTEL_SOURCE_DIR} + "/tests/alerters/smtp_sink.py";
    std::vector<std::string> args{"/usr/bin/python3", script, dir_};
    if (!auth.empty()) {
      args.push_back("--auth");
      args.push_back(auth);
    }
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("cannot start smtp_sink.py");
    // Waiting for a child process to bind, bounded: not a deadline in the code under test.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds{15};
    while (!std::filesystem::exists(dir_ + "/port")) {
      if (std::chrono::steady_clock::now() > until)
        throw std::runtime_error("smtp_sink.py did not start");
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    std::ifstream{dir_ + "/port"} >> port_;
  }

  ~smtp_sink() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    std::filesystem::remove_all(dir_);
  }

  smtp_sink(const smtp_sink&) = delete;
  smtp_sink& operator=(const smtp_sink&) = delete;

  int port() const { return port_; }

  /// Every message accepted so far, in arrival order.
  std::vector<received_mail> messages() const {
    std::vector<received_mail> out;
    for (int n = 1;; ++n) {
      auto base = dir_ + "/msg-" + std::to_string(n);
      if (!std::filesystem::exists(base + ".eml"))
        break;
      received_mail m;
      std::ifstream env{base + ".env"};
      std::string auth;
      std::getline(env, m.mail_from);
      std::getline(env, m.rcpt_to);
      std::getline(env, auth);
      m.authenticated = auth == "auth";
      std::ifstream data{base + ".eml", std::ios::binary};
      std::stringstream ss;
      ss << data.rdbuf();
      m.data = ss.str();
      out.push_back(std::move(m));
    }
    return out;
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace gotel::test
