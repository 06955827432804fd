// libunwind's memory-validation pipe, kept out of the host's way.
//
// libunwind 1.6 validates every page it reads while unwinding by writing a byte of it to a
// pipe of its own (x86_64/Ginit.c, write_validate), opened at initialization and again whenever
// reading from it fails. Left alone, that pipe takes the host's lowest free descriptor numbers
// for good (CPython's test_subprocess, which lists a child's descriptors, saw them), and a host
// that closes every descriptor and reuses the numbers would have libunwind read and write a
// byte of the host's own descriptors.
//
// The shim's pipe2() wrapper hands libunwind a pipe at the top of the descriptor range and
// remembers where libunwind keeps the two numbers (the array it passed to pipe2). When the
// host closes one of them, libunwind is made to forget both before the numbers can be reused:
// it opens a new pipe, through the same wrapper, the next time it needs one.
#pragma once

namespace loopsan::unwinder_pipe {

// Called by the pipe2() wrapper for libunwind's call: `libunwind_fds` is libunwind's own
// array, already filled with the (high) descriptor numbers.
void adopt(int* libunwind_fds);

// Fast test for the close() family: does the host's call touch libunwind's pipe?
extern int g_fds[2];
inline bool involves(int fd) {
  return fd >= 0 && (fd == g_fds[0] || fd == g_fds[1]);
}
bool in_range(unsigned first, unsigned last);

// The host is about to close (some of) the pipe: libunwind forgets both descriptors, and the
// one the host does not close is closed here with `real_close`.
void host_closing(int first, int last, int (*real_close)(int));

}  // namespace loopsan::unwinder_pipe
