// Tests actors/flat_index.hpp against std::unordered_map as the model.

#include "actors/flat_index.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace gotel {
namespace {

struct int_box {
  int v = 0;
};

/// A poor hash on purpose: many keys share a home slot, so probe runs are
/// long and wrap around the table's end, which is where erase can go wrong.
struct clumping_hash {
  std::size_t operator()(std::uint64_t k) const { return k % 7; }
};

TEST(flat_index, agrees_with_a_map_through_random_inserts_and_erases) {
  for (bool clump : {false, true}) {
    std::mt19937_64 rng{clump ? 7u : 11u};
    std::vector<int_box> values(64);
    std::unordered_map<std::uint64_t, int_box*> model;
    flat_index<std::uint64_t, int_box, std::hash<std::uint64_t>> plain;
    flat_index<std::uint64_t, int_box, clumping_hash> clumped;
    auto check = [&](std::uint64_t k) {
      auto want = model.find(k);
      auto got = clump ? reinterpret_cast<void*>(clumped.find(k)) : plain.find(k);
      if (want == model.end()) {
        EXPECT_EQ(got, nullptr) << k;
      } else {
        ASSERT_NE(got, nullptr) << k;
        auto* v = clump ? clumped.find(k)->second : plain.find(k)->second;
        EXPECT_EQ(v, want->second) << k;
      }
    };
    for (int op = 0; op < 200'000; ++op) {
      std::uint64_t k = rng() % 3000;  // keys repeat: replace and erase hit
      auto* v = &values[rng() % values.size()];
      if (rng() % 3 != 0) {
        model[k] = v;
        clump ? clumped.assign(k, v) : plain.assign(k, v);
      } else if (model.erase(k)) {
        if (clump)
          clumped.erase(clumped.find(k));
        else
          plain.erase(plain.find(k));
      }
      if (op % 97 == 0)
        for (std::uint64_t q = 0; q < 3000; q += 13)
          check(q);
      ASSERT_EQ(clump ? clumped.size() : plain.size(), model.size());
    }
    for (std::uint64_t q = 0; q < 3000; ++q)
      check(q);
  }
}

TEST(flat_index, reserve_keeps_entries_and_null_values_are_refused) {
  flat_index<std::uint64_t, int_box, std::hash<std::uint64_t>> ix;
  int_box a, b;
  EXPECT_EQ(ix.find(1), ix.end());
  ix.assign(1, &a);
  ix.assign(2, &b);
  ix.reserve(1'000'000);
  ix.assign(1, &b);  // replaces
  EXPECT_EQ(ix.size(), 2u);
  EXPECT_EQ(ix.find(1)->second, &b);
  EXPECT_EQ(ix.find(2)->second, &b);
  EXPECT_THROW(ix.assign(3, nullptr), std::invalid_argument);
  EXPECT_EQ(ix.find(3), ix.end());
  ix.clear();
  EXPECT_EQ(ix.find(1), ix.end());
}

}  // namespace
}  // namespace gotel
