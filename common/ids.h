#pragma once
// Object ids: 64 lowercase hex characters from the kernel's random source,
// the same shape as containerd's and CRI-O's ids, so tools that truncate
// them to 13 or 12 characters keep working.

#include <string>

namespace crius {

std::string NewObjectId();

}  // namespace crius
