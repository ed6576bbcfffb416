#pragma once
/// For request-parser tests: a rejection's message, after checking its status.

#include "net/requests.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace gotel::test {

/// The message of `r`'s rejection, "<accepted>" when it was accepted; fails the
/// test when the rejection's status is not `status`.
template <class T>
std::string rejected(const parse_result<T>& r, int status = 400) {
  auto* rej = std::get_if<rejection>(&r);
  if (!rej)
    return "<accepted>";
  EXPECT_EQ(rej->status, status) << rej->message;
  return rej->message;
}

}  // namespace gotel::test
