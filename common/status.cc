#include "common/status.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace crius {

absl::Status ErrnoStatus(int err, std::string_view what) {
  std::string msg = absl::StrCat(AbslView(what), ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ESRCH:
      return absl::NotFoundError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case EINVAL:
    case ENAMETOOLONG:
    case ENOTDIR:
    case EISDIR:
      return absl::InvalidArgumentError(msg);
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(msg);
    case EAGAIN:
    case EBUSY:
    case EINTR:
      return absl::UnavailableError(msg);
    case ETIMEDOUT:
      return absl::DeadlineExceededError(msg);
    case ENOSPC:
    case EDQUOT:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return absl::ResourceExhaustedError(msg);
    case ENOSYS:
    case EOPNOTSUPP:
      return absl::UnimplementedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::Status Annotate(const absl::Status& s, std::string_view context) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(AbslView(context), ": ", s.message()));
}

}  // namespace crius
