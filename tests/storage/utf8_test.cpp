// Tests storage/utf8.*: validation, sanitizing, cuts on code point boundaries,
// log escaping, and json_text on invalid bytes (issue 13 section 1).

#include "storage/utf8.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace gotel {
namespace {

TEST(utf8, valid_accepts_well_formed_text_and_refuses_the_rest) {
  EXPECT_TRUE(utf8::valid(""));
  EXPECT_TRUE(utf8::valid("plain ascii"));
  EXPECT_TRUE(utf8::valid("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // é € 😀
  EXPECT_FALSE(utf8::valid("Hello \xE9 World"));          // Latin-1
  EXPECT_FALSE(utf8::valid("\xFF"));
  EXPECT_FALSE(utf8::valid("\xC3"));                      // cut sequence
  EXPECT_FALSE(utf8::valid("\xC0\xAF"));                  // overlong '/'
  EXPECT_FALSE(utf8::valid("\xE0\x80\xAF"));              // overlong
  EXPECT_FALSE(utf8::valid("\xED\xA0\x80"));              // surrogate U+D800
  EXPECT_FALSE(utf8::valid("\xF4\x90\x80\x80"));          // above U+10FFFF
  EXPECT_FALSE(utf8::valid("\x80"));                      // lone continuation
}

TEST(utf8, sanitize_replaces_each_bad_byte_and_keeps_valid_text) {
  EXPECT_EQ(utf8::sanitize("Hello \xE9 World"), "Hello \xEF\xBF\xBD World");
  EXPECT_EQ(utf8::sanitize("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(utf8::sanitize("\xC3"), "\xEF\xBF\xBD");
  EXPECT_EQ(utf8::sanitize("a\xFF\xFE" "b"), "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
  EXPECT_TRUE(utf8::valid(utf8::sanitize("\xED\xA0\x80\xF4\x90\x80\x80\xC0\xAF")));
}

TEST(utf8, truncate_never_splits_a_code_point) {
  std::string s = std::string(4095, 'a') + "\xC3\xA9\xC3\xA9";  // 4095 a + é é
  EXPECT_EQ(utf8::truncate(s, 4096), std::string(4095, 'a'));
  EXPECT_EQ(utf8::truncate(s, 4097), std::string(4095, 'a') + "\xC3\xA9");
  EXPECT_EQ(utf8::truncate("\xE2\x82\xAC", 1), "");
  EXPECT_EQ(utf8::truncate("\xE2\x82\xAC", 2), "");
  EXPECT_EQ(utf8::truncate("\xE2\x82\xAC", 3), "\xE2\x82\xAC");
  EXPECT_EQ(utf8::truncate("\xF0\x9F\x98\x80x", 4), "\xF0\x9F\x98\x80");
  EXPECT_EQ(utf8::truncate("short", 64), "short");
  std::string euro = std::string(63, 'a') + "\xE2\x82\xAC";
  EXPECT_EQ(utf8::truncate(euro, 64), std::string(63, 'a'));
  for (std::size_t n = 0; n <= 12; ++n)
    EXPECT_TRUE(utf8::valid(utf8::truncate("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xC3\xA9", n)))
      << n;
  EXPECT_EQ(utf8::clean("\xE9\xE9", 4), "\xEF\xBF\xBD") << "sanitized, then cut whole";
}

TEST(utf8, printable_escapes_every_control_character) {
  EXPECT_EQ(utf8::printable("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(utf8::printable(std::string("x\0y", 3)), "x\\x00y");
  EXPECT_EQ(utf8::printable("\x1b[31m"), "\\x1b[31m");
  EXPECT_EQ(utf8::printable("\x7f"), "\\x7f");
  EXPECT_EQ(utf8::printable("\xC2\x85"), "\\x85") << "C1 NEL";
  EXPECT_EQ(utf8::printable("caf\xC3\xA9 \xFF"), "caf\xC3\xA9 \xEF\xBF\xBD");
}

TEST(utf8, json_text_writes_invalid_bytes_as_replacement_characters) {
  nlohmann::ordered_json j;
  j["notes"] = "Hello \xE9 World";
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error) << "what used to end the process";
  auto text = json_text(j);
  EXPECT_EQ(nlohmann::json::parse(text)["notes"], "Hello \xEF\xBF\xBD World");
}

}  // namespace
}  // namespace gotel
