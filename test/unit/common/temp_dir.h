#pragma once
// TempDir: a fresh directory for one test, removed with everything in it
// when the test ends, pass or fail. Shared by tests of every module.

#include <stdlib.h>

#include <string>

#include "common/files.h"
#include "gtest/gtest.h"

namespace crius::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = ::getenv("TMPDIR");
    std::string templ = JoinPath(base && *base ? base : "/tmp", "crius-test-XXXXXX");
    if (::mkdtemp(templ.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << templ;
    path_ = templ;
  }
  ~TempDir() {
    absl::Status s = RemoveAll(path_);
    if (!s.ok()) ADD_FAILURE() << s;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Path(const std::string& name) const { return JoinPath(path_, name); }

 private:
  std::string path_;
};

}  // namespace crius::testing
