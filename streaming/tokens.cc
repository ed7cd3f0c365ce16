#include "streaming/tokens.h"

#include <sys/random.h>

#include <cerrno>

#include "absl/strings/escaping.h"
#include "common/status.h"

namespace crius::streaming {

absl::StatusOr<std::string> RandomToken(size_t n) {
  std::string raw(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(raw.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("getrandom");
    }
    got += static_cast<size_t>(r);
  }
  return absl::WebSafeBase64Escape(raw);  // no padding
}

TokenStore::TokenStore(absl::Duration ttl, size_t max_tokens, Clock clock)
    : ttl_(ttl), max_tokens_(max_tokens), clock_(std::move(clock)) {}

absl::StatusOr<std::string> TokenStore::Mint(PendingRequest req) {
  ASSIGN_OR_RETURN(std::string token, RandomToken(16));
  absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  if (tokens_.size() >= max_tokens_) SweepLocked(now);
  if (tokens_.size() >= max_tokens_) {
    return absl::ResourceExhaustedError(
        "streaming: too many outstanding stream requests; try again later");
  }
  tokens_[token] = Entry{std::move(req), now + ttl_};
  return token;
}

std::optional<PendingRequest> TokenStore::Take(std::string_view token) {
  absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  auto it = tokens_.find(std::string(token));
  if (it == tokens_.end()) return std::nullopt;
  Entry e = std::move(it->second);
  tokens_.erase(it);
  if (now >= e.expires) return std::nullopt;
  return std::move(e.req);
}

size_t TokenStore::Outstanding() {
  absl::MutexLock lock(&mu_);
  SweepLocked(clock_());
  return tokens_.size();
}

void TokenStore::SweepLocked(absl::Time now) {
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    if (now >= it->second.expires) {
      tokens_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace crius::streaming
