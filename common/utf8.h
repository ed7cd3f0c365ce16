#pragma once
// Bytes a container controls (its termination message, a runtime's error
// output) end up in proto string fields and JSON records, which must be
// UTF-8: kubelet's Go protobuf refuses a response that is not, and a JSON
// record with such a string cannot be written.

#include <string>
#include <string_view>

namespace crius {

// `s` with every byte that does not start a valid UTF-8 sequence (or sits
// inside a broken, overlong or surrogate one) replaced by U+FFFD.
std::string ToValidUtf8(std::string_view s);

}  // namespace crius
