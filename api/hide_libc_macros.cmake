# Wraps the generated api.pb.h so it parses whatever was included before it.
#
# The CRI enum Signal has values named SIGTERM, SIGRTMAX, ... and several
# messages have a field named `linux`; <signal.h> defines the former as macros
# and GNU C++ modes define the latter. Without this wrap, any translation unit
# that includes <csignal> (or any header pulling it in, such as grpcpp) before
# api.pb.h fails to compile. The wrap saves each macro, undefines it for the
# length of the header, and restores it afterwards. `linux` is the exception:
# it stays undefined, because generated and user code call accessors such as
# config.linux() outside the header too (the portable spelling is __linux__).
#
# Usage: cmake -DHEADER=<path to api.pb.h> -P hide_libc_macros.cmake
# Running it twice is harmless: a marker on the first line is checked.
if(NOT HEADER)
  message(FATAL_ERROR "HEADER not set")
endif()
set(marker "// crius: libc macro guard")
file(READ "${HEADER}" body)
string(FIND "${body}" "${marker}" at)
if(at EQUAL 0)
  return()
endif()

set(names
  SIGABRT SIGALRM SIGBUS SIGCHLD SIGCLD SIGCONT SIGFPE SIGHUP SIGILL SIGINT
  SIGIO SIGIOT SIGKILL SIGPIPE SIGPOLL SIGPROF SIGPWR SIGQUIT SIGSEGV SIGSTKFLT
  SIGSTOP SIGSYS SIGTERM SIGTRAP SIGTSTP SIGTTIN SIGTTOU SIGURG SIGUSR1 SIGUSR2
  SIGVTALRM SIGWINCH SIGXCPU SIGXFSZ SIGRTMIN SIGRTMAX)
set(pre "${marker}\n#undef linux\n")
set(post "\n// crius: restore the macros hidden above\n")
foreach(n IN LISTS names)
  string(APPEND pre "#pragma push_macro(\"${n}\")\n#undef ${n}\n")
  string(APPEND post "#pragma pop_macro(\"${n}\")\n")
endforeach()
file(WRITE "${HEADER}" "${pre}${body}${post}")
