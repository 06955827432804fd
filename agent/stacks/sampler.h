// The stack of another thread that is running (computing), taken by a signal: the watchdog
// sends it with tgkill, and the handler, on that thread, unwinds from the interrupted context
// into a preallocated slot (libunwind: the signal's ucontext + unw_init_local2 with
// UNW_INIT_SIGNAL_FRAME, then unw_step; raw return addresses only, no lock of ours, no
// allocation, errno kept). The watchdog turns the addresses into a StackId afterwards.
//
// What keeps the host undisturbed (read README "The watchdog"):
// - Only a thread that is computing is signalled, never one in a wait: a handled signal makes
//   epoll_wait, poll, select, nanosleep and sockets with timeouts fail with EINTR even with
//   SA_RESTART (signal(7); Go's SIGURG preemption broke programs this way, golang/go#24543).
//   The race between "it computes" and the signal is closed by a handshake with the thread's
//   wrapped waits (ThreadState::sample_state, events::wait_entering): a wait entered while a
//   sample is decided either cancels it or lets the signal land before the wait starts.
// - The signal is SIGURG (ignored by default, gdb does not stop on it; Go, HAProxy and Chromium
//   use it the same way) unless the host has a handler for it, else the highest free real-time
//   signal. The host keeps its view: sigaction() reports what it set, a handler it installs
//   later wins, and the sampler then moves to another free signal. SA_RESTART|SA_ONSTACK, every
//   signal blocked while the handler runs (a host handler cannot longjmp out of ours).
// - No unwinding where it is unsafe: inside the loader (the thread owns ld.so's load locks, or
//   runs ld.so's code), inside libunwind or libgcc's unwinder, while a C++ exception is thrown
//   or caught on that thread (seastar#2697), inside loopsan itself. The sample then says why.
// - A thread whose mask blocks the signal is not signalled (SigBlk of /proc/self/task/TID/
//   status): the sample says "signal blocked".
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "agent/base/thread_state.h"
#include "agent/stacks/stack.h"

namespace loopsan::sampler {

enum class Outcome {
  kOk,                  // frames taken
  kNotRunning,          // the thread entered a wait (or a system call) first: nothing sent
  kBlocked,             // the host blocks the signal on that thread
  kTimeout,             // the handler did not run in time
  kNoSignal,            // no usable signal (the host has handlers for all candidates)
  kNoBarrier,           // the kernel lacks membarrier(2): a signal could interrupt a wait
  kInLoader,            // interrupted inside the dynamic loader
  kInUnwinder,          // inside libunwind or libgcc's unwinder
  kUnwindingException,  // a C++ exception is in flight on that thread
  kInLoopsan,           // inside loopsan's own work
  kSmallStack,          // the handler runs on an alternate signal stack too small to unwind on
  kGone,                // the thread has exited
};
// Why there is no stack, for a report ("signal blocked by the host", ...).
const char* describe(Outcome outcome);

struct Result {
  Outcome outcome = Outcome::kNoSignal;
  int size = 0;
  uintptr_t ips[kMaxStackDepth] = {};  // ips[0] is the interrupted pc itself, not a return address
  uintptr_t sp = 0;                    // the interrupted stack pointer
  std::string python_dump;             // _Py_DumpTraceback's text, when asked for
  void* isolate = nullptr;             // the V8 isolate the thread had entered, when asked for
};

// On the watchdog: installs the handler (first use), warms libunwind up (its first use in a
// process opens its validation pipe and binds its calls), finds ld.so's load locks. False
// when no signal is usable. Idempotent.
bool prepare();

// Phase 1, on the watchdog, while `state` is known valid (the caller holds a lock that the
// thread's exit takes): decides, and sends the signal when the thread is still outside any
// wrapped wait, its signal is not blocked and it is not in a system call. kOk means sent: call
// finish() next. `python`: also dump the thread's Python frames (CPython's own signal-safe
// _Py_DumpTraceback, the one faulthandler uses; the caller checked the interpreter runs).
// `state` may be null for a thread whose state is not known (another thread's GIL holder):
// then only the kernel's word that it is not in a system call stands between the signal and
// an EINTR, a window of microseconds.
// `isolate`: also read which V8 isolate the thread entered (the function that reads it).
Outcome send(pid_t tid, ThreadState* state, bool python, void* (*isolate)() = nullptr);
// Phase 2, with no lock held: waits for the handler (200 ms at most) and collects its result.
void finish(Result& out);
// Phase 3, with `state` valid again: a sample that timed out stops holding the thread's waits.
void release(ThreadState* state);

// On a thread entering a wrapped wait while a sample for it is being decided
// (events::settle_sample): cancels it, or lets its signal be delivered before the wait.
void settle();

// The host's sigaction() for the sampler's signal (events.cc routes it here): owns() is true
// for the signal in use. A handler function from the host takes the signal back: the sampler
// gives it up (taken_by_host) and the caller installs the host's as for any other signal,
// with `oldact` from host_view(). SIG_DFL/SIG_IGN only change what the host sees.
bool owns(int sig);
void taken_by_host(int sig);
int host_view(int sig, const struct sigaction* act, struct sigaction* oldact);

// The signal in use, 0 when none yet.
int signal_number();

// Tests: the ld.so lock offsets were found (the exact loader test is on).
bool loader_locks_known();

void reset_after_fork();

}  // namespace loopsan::sampler
