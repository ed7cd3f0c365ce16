#include "common/child_reaper.h"

#include <dirent.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"

namespace crius {
namespace {

struct Registry {
  absl::Mutex mu;
  std::unordered_set<pid_t> owned ABSL_GUARDED_BY(mu);
  // Forks under way: their child may exist, exit and show as a zombie
  // before it is recorded in `owned`, so the reaper waits for its next
  // round. Counted rather than locked so forks (and the owners' waits)
  // never queue behind each other.
  int forking ABSL_GUARDED_BY(mu) = 0;
};

Registry& GetRegistry() {
  static Registry* const registry = new Registry;  // never destroyed: used until exit
  return *registry;
}

// This process's children: /proc/self/task/<tid>/children lists each
// thread's, and an orphan is reparented to one of our threads.
std::vector<pid_t> Children() {
  std::vector<pid_t> out;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return out;
  while (struct dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(absl::StrCat("/proc/self/task/", e->d_name, "/children"));
    std::string word;
    while (in >> word) {
      pid_t pid = 0;
      if (absl::SimpleAtoi(word, &pid) && pid > 0) out.push_back(pid);
    }
  }
  ::closedir(dir);
  return out;
}

}  // namespace

pid_t ForkOwnedChild(absl::FunctionRef<pid_t()> fork_fn) {
  Registry& r = GetRegistry();
  {
    absl::MutexLock lock(&r.mu);
    ++r.forking;
  }
  pid_t pid = fork_fn();
  absl::MutexLock lock(&r.mu);
  if (pid > 0) r.owned.insert(pid);
  --r.forking;
  return pid;
}

void ReleaseOwnedChild(pid_t pid) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  r.owned.erase(pid);
}

bool IsOwnedChild(pid_t pid) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  return r.owned.count(pid) != 0;
}

int ReapUnownedChildren() {
  Registry& r = GetRegistry();
  int reaped = 0;
  // Held throughout (waitpid with WNOHANG never blocks), so no owned child
  // can be recorded between the check and the waitpid.
  absl::MutexLock lock(&r.mu);
  if (r.forking > 0) return 0;  // an unrecorded child may be among them
  for (pid_t pid : Children()) {
    if (r.owned.count(pid) != 0) continue;
    int status;
    pid_t got;
    do {
      got = ::waitpid(pid, &status, WNOHANG);
    } while (got < 0 && errno == EINTR);
    if (got == pid) ++reaped;
  }
  return reaped;
}

absl::Status BecomeChildSubreaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    return ErrnoStatus("prctl(PR_SET_CHILD_SUBREAPER)");
  }
  return absl::OkStatus();
}

}  // namespace crius
