#pragma once
/// UTF-8 for every string that enters or leaves GoTel (docs/security.md,
/// "Text that is not UTF-8"). Identifiers (app, component) that are not valid
/// UTF-8 are refused; free text (ping bodies, notes, messages) is sanitized;
/// every cut is made on a code point boundary; every serializer tolerates
/// bytes already stored by an older version (json_text below).

#include <cstddef>
#include <string>
#include <string_view>

namespace gotel::utf8 {

/// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates,
/// nothing above U+10FFFF).
bool valid(std::string_view text);

/// `text` with every byte that is not part of a well-formed sequence replaced
/// by U+FFFD; valid text comes back unchanged.
std::string sanitize(std::string_view text);

/// The largest length <= `max_bytes` that does not cut a code point of
/// `text` in two (for valid UTF-8; invalid bytes are cut anywhere).
std::size_t cut(std::string_view text, std::size_t max_bytes);

/// The first at most `max_bytes` bytes of `text`, cut on a code point boundary.
std::string truncate(std::string_view text, std::size_t max_bytes);

/// sanitize() then truncate(): what free text is stored as.
std::string clean(std::string_view text, std::size_t max_bytes);

/// Why `name` (an app or component, valid UTF-8) would pass for another name
/// (issue 14 section 6), or "" when it would not: leading whitespace, trailing
/// whitespace other than spaces (trailing spaces are ignored by identity
/// already), invisible characters (zero-width, soft hyphen, bidi controls,
/// byte order mark) anywhere, or full-width forms of ASCII (U+FF01-U+FF5E,
/// U+3000) that Unicode NFKC folds to ASCII.
std::string lookalike_problem(std::string_view name);

/// For log lines: sanitize() with every control character (C0 incl. \n, \r,
/// NUL and \t, DEL and C1) written as \n, \r, \t or \xHH, so that one call
/// can never write two lines or forge the start of another.
std::string printable(std::string_view text);

}  // namespace gotel::utf8

namespace gotel {

/// JSON text of `j` (any nlohmann::basic_json) that never throws on invalid
/// UTF-8: bad bytes become U+FFFD. Every JSON answer is written with it.
template <class Json>
std::string json_text(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace gotel
