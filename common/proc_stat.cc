#include "common/proc_stat.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"

namespace crius {

absl::StatusOr<ProcStat> ReadProcStat(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/stat");
  auto content = ReadFile(path, 4096);
  if (!content.ok()) {
    if (absl::IsNotFound(content.status())) return absl::NotFoundError(absl::StrCat("no process ", pid));
    return content.status();
  }
  // "pid (comm) state ppid ...": comm may itself hold spaces and ')', so
  // fields are counted from the last ')'.
  size_t close = content->rfind(')');
  if (close == std::string::npos) return absl::InternalError(absl::StrCat(path, ": no ')'"));
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(*content).substr(close + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state), [1] field 4 (ppid), [19] field 22 (starttime).
  ProcStat st;
  if (fields.size() < 20 || fields[0].empty() || !absl::SimpleAtoi(fields[1], &st.ppid) ||
      !absl::SimpleAtoi(fields[19], &st.start_time)) {
    return absl::InternalError(absl::StrCat(path, ": unexpected format"));
  }
  st.state = fields[0][0];
  return st;
}

}  // namespace crius
