#pragma once
// Status helpers shared by every module. Errors are absl::Status with a
// canonical code; each layer adds context with Annotate so the message that
// reaches the caller reads outermost-first ("create pod x: mount netns: EPERM").

#include <cerrno>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crius {

// Maps an errno value to the canonical code that best describes it and
// formats "<what>: <strerror>".
absl::Status ErrnoStatus(int err, std::string_view what);

// Same, reading errno now.
inline absl::Status ErrnoStatus(std::string_view what) { return ErrnoStatus(errno, what); }

// Returns `s` with "<context>: " put before its message; the code is kept.
absl::Status Annotate(const absl::Status& s, std::string_view context);

}  // namespace crius

#define CRIUS_CONCAT_INNER_(a, b) a##b
#define CRIUS_CONCAT_(a, b) CRIUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                         \
  do {                                                \
    ::absl::Status crius_status_ = (expr);            \
    if (!crius_status_.ok()) return crius_status_;    \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Fn())` declares x from a StatusOr or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  CRIUS_ASSIGN_OR_RETURN_IMPL_(CRIUS_CONCAT_(crius_statusor_, __LINE__), lhs, expr)
#define CRIUS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(tmp).value()
