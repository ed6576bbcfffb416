#pragma once
// The fuzz targets' output checks, written independently of the code under test
// and compiled without coverage instrumentation (tests/fuzz/CMakeLists.txt):
// they judge the output, they are not what is being explored, and uninstrumented
// they cost a fraction of the time (fuzz_ingest spent most of each execution in
// them). Still built with ASan and UBSan.

#include <string_view>

namespace gotel::fuzz {

/// Well-formed UTF-8 (Unicode 15, table 3-7: no overlong form, no surrogate,
/// nothing above U+10FFFF), decoded code point by code point.
bool is_utf8(std::string_view text);

/// `text` is one complete JSON text (RFC 8259), as nlohmann::json::accept says.
bool is_json(std::string_view text);

}  // namespace gotel::fuzz
