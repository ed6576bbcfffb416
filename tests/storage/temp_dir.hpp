#pragma once
/// A fresh directory under /tmp for one test's RocksDB, removed with everything
/// in it.

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace gotel::storage::test {

struct temp_dir {
  std::string path;
  explicit temp_dir(const std::string& prefix = "gotel-store-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

}  // namespace gotel::storage::test
