#include "common/ids.h"

#include <sys/random.h>

#include <cstdint>
#include <cstdlib>

namespace crius {

std::string NewObjectId() {
  uint8_t bytes[32];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
    // getrandom only fails before the pool is seeded or on EINTR; both
    // resolve by trying again.
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(64, '0');
  for (size_t i = 0; i < sizeof(bytes); ++i) {
    id[2 * i] = kHex[bytes[i] >> 4];
    id[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return id;
}

}  // namespace crius
