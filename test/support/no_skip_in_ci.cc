// Linked into every test binary (test/CMakeLists.txt, crius_test): under CI
// a skipped test fails its binary. Tests skip when the machine lacks root
// or a binary (runc, conmon, the CNI plugins); on a developer's laptop that
// is a convenience, in CI it would mean a missing install step turned into
// a green run with fewer tests. CI is recognised by CRIUS_TEST_NO_SKIP=1
// (exported by .ci/run) or by CI=true (set by CI services).

#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"

namespace crius::testing {
namespace {

bool InCi() {
  const char* no_skip = std::getenv("CRIUS_TEST_NO_SKIP");
  if (no_skip != nullptr && *no_skip != '\0') return std::strcmp(no_skip, "0") != 0;
  const char* ci = std::getenv("CI");
  return ci != nullptr && (std::strcmp(ci, "true") == 0 || std::strcmp(ci, "1") == 0);
}

// gtest calls the OnTestEnd of listeners in reverse order of registration,
// so this one runs before the default printer, while the test is still the
// current one: a failure added here is the test's own, and the printer,
// the XML report, ctest (which would otherwise match "[  SKIPPED ]") and the
// exit code all see a failed test.
class FailSkipsInCi : public ::testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (!info.result()->Skipped() || !InCi()) return;
    ADD_FAILURE() << "skipped under CI, which counts as a failure: install what the test needs "
                     "(deploy/packages.txt) and run it as root";
  }
};

// Registered before main runs; gtest keeps listeners appended before
// InitGoogleTest.
const bool kRegistered = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new FailSkipsInCi);
  return true;
}();

}  // namespace
}  // namespace crius::testing
