#pragma once

// criusctl: a small crictl-like tool for nodes without crictl.
//
// The whole tool is this function so unit tests can run it in-process
// against a fake CRI server and look at exactly what a user would see.

#include <ostream>
#include <string>
#include <vector>

namespace crius::client {

inline constexpr char kDefaultRuntimeEndpoint[] =
    "unix:///run/crius/crius.sock";

// Runs one criusctl invocation. `args` excludes the program name. Normal
// output goes to `out`, errors and container stderr to `err`. Returns the
// process exit code: 0 on success, 1 when an operation failed, 2 for a usage
// error, and for `exec` the command's own exit code.
int RunCriusctl(const std::vector<std::string>& args, std::ostream& out,
                std::ostream& err);
// The same, reading exec -i / attach -i input from `stdin_fd`.
int RunCriusctl(const std::vector<std::string>& args, int stdin_fd,
                std::ostream& out, std::ostream& err);

}  // namespace crius::client
