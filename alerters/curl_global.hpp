#pragma once
/// libcurl's process-wide init, shared by every channel that uses libcurl.

#include <curl/curl.h>

#include <mutex>

namespace gotel::detail {

/// curl_global_init is not thread-safe; do it once, lazily. An inline function's
/// static is one object across translation units.
inline void curl_global_once() {
  static std::once_flag flag;
  std::call_once(flag, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace gotel::detail
