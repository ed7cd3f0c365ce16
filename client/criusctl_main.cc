// criusctl's entry point; everything else lives in RunCriusctl so tests can
// run the tool in-process.

#include <iostream>
#include <string>
#include <vector>

#include "client/criusctl.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return crius::client::RunCriusctl(args, std::cout, std::cerr);
}
