// Tests actors/stable_map.hpp against std::unordered_map as the model.

#include "actors/stable_map.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <unordered_map>

namespace gotel {
namespace {

TEST(stable_map, agrees_with_a_map_and_values_stay_put_through_random_changes) {
  std::mt19937_64 rng{3};
  std::unordered_map<std::string, int> model;
  std::unordered_map<std::string, const int*> address;  // where each live value sits
  stable_map<int> m;
  for (int op = 0; op < 100'000; ++op) {
    auto k = "app-" + std::to_string(rng() % 5000) + std::string(1, '\0') + "job";
    switch (rng() % 4) {
      case 0:
      case 1: {
        auto [i, added] = m.try_emplace(k);
        ASSERT_EQ(added, model.count(k) == 0) << op;
        if (added)
          address[k] = &i->second;
        ASSERT_EQ(&i->second, address[k]) << "a value moved";
        i->second += 1;
        model[k] += 1;
        break;
      }
      case 2:
        if (auto i = m.find(k); i != m.end()) {
          m.erase(i);
          model.erase(k);
          address.erase(k);
        } else {
          ASSERT_EQ(model.count(k), 0u);
        }
        break;
      default:
        ASSERT_EQ(m.count(k), model.count(k));
        if (model.count(k))
          ASSERT_EQ(m.at(k), model[k]);
    }
    ASSERT_EQ(m.size(), model.size());
  }
  std::map<std::string, int> seen;
  for (auto& [key, value] : m) {
    EXPECT_EQ(&value, address[key]);
    seen[key] = value;
  }
  std::map<std::string, int> want(model.begin(), model.end());
  EXPECT_EQ(seen, want);
  EXPECT_THROW(m.at("missing"), std::out_of_range);
}

TEST(stable_map, reserve_and_operator_brackets_count_per_key) {
  stable_map<std::uint64_t> per_app;
  per_app.reserve(100'000);
  for (int i = 0; i < 1000; ++i)
    per_app["app-" + std::to_string(i % 10)] += 1;
  EXPECT_EQ(per_app.size(), 10u);
  EXPECT_EQ(per_app.at("app-3"), 100u);
  EXPECT_EQ(per_app.begin()->second, 100u);
  std::size_t n = 0;
  for (auto i = per_app.begin(); i != per_app.end(); ++i)
    ++n;
  EXPECT_EQ(n, 10u);
  per_app.erase(per_app.find("app-3"));
  EXPECT_EQ(per_app.find("app-3"), per_app.end());
  EXPECT_EQ(per_app["app-3"], 0u);  // back, value-initialized
}

}  // namespace
}  // namespace gotel
