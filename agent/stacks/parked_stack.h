// Stacks of other threads of this process that are parked in a system call, read from outside:
// no signal, nothing done on the parked thread itself.
//
// The kernel publishes, for every thread blocked in a system call, the call's number, its six
// arguments and the thread's user stack pointer and program counter in
// /proc/self/task/TID/syscall (proc(5); reading it is allowed within the thread group). The
// calling thread walks the parked thread's stack from that sp/pc with libunwind
// (stack.h, unwind_registers), then reads the file again and throws the stack away if the
// thread moved meanwhile. The arguments also say what the thread waits for: the futex of a
// mutex names its owner (glibc keeps the owner's tid in the mutex), the futex of
// pthread_join() the joined thread, the futex of a std::future its shared state.
//
// Signalling would interrupt the host's own waits (signal(7): epoll_wait, poll, nanosleep...
// fail with EINTR on any handled signal, SA_RESTART or not); reading /proc does not touch the
// thread at all. A thread that is computing ("running") has no stack here: the sampler
// (a signal, agent/stacks/sampler.h) is for those.
//
// The file is opened, read and closed each time with raw system calls: loopsan keeps no
// descriptor open in the host (a host may close every descriptor), and its own reads never go
// through its wrappers. Costs ~10 µs per read and 10-130 µs per walk: for threads already
// known to matter (at exit, in a hang), not for polling every thread.
//
// Call from agent code (a ReentryGuard set: libunwind's memory validation writes through the
// shim's wrappers), never from a signal handler.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "agent/stacks/stack.h"

namespace loopsan::parked {

// /proc/self/task/TID/syscall, parsed.
struct Syscall {
  enum class State {
    kGone,     // no such thread (it ended), or the file could not be read
    kRunning,  // on a CPU, or runnable: not in a system call
    kParked,   // blocked: `nr` (or -1: blocked outside a system call, e.g. a page fault)
  };
  State state = State::kGone;
  long nr = -1;
  uintptr_t args[6] = {};
  uintptr_t sp = 0;
  uintptr_t pc = 0;
};

// Reads and parses the file for thread `tid` of this process. Async-signal-safe (raw system
// calls, no allocation), errno kept.
Syscall read_syscall(pid_t tid);

// A parked thread's stack: raw return addresses, innermost first (ips[0] = the pc in the
// system-call stub), loopsan's own frames left out.
struct Stack {
  Syscall call;
  int size = 0;  // 0 when not parked, or when it kept moving while it was read
  uintptr_t ips[kMaxStackDepth];
};

// Reads the thread's system call and, when it is parked, walks its stack (up to `max` frames,
// and the stack_depth option). `out->call.state` says what was found; a walk the thread
// invalidated by moving (nr, sp or pc changed) is retried once, then given up (size 0).
void sample(pid_t tid, Stack* out, int max = kMaxStackDepth);

// What a parked thread waits for, as far as the call's arguments tell.
struct WaitTarget {
  enum class Kind {
    kNone,        // not parked, or a call loopsan does not describe
    kMutex,       // a pthread mutex (std::mutex ...): object = the mutex, owner = holder's tid
    kJoin,        // pthread_join (std::thread::join): object = the pthread_t, owner = its tid
    kFuture,      // std::future wait/get: object = the shared state, type = its mangled type
    kFutex,       // another futex wait (condition variable, semaphore, ...): object = the word
    kDescriptor,  // I/O on one descriptor (read, recv, accept, connect, ...): object = fd
    kPoll,        // poll/select/epoll: object = the epoll descriptor for epoll_wait
    kSleep,       // nanosleep, clock_nanosleep
    kSignal,      // pause, sigsuspend, sigtimedwait
    kChild,       // wait4/waitid: object = the pid (or id) waited for
  };
  Kind kind = Kind::kNone;
  uintptr_t object = 0;
  // kMutex: the owner's tid; 0 when the mutex is being handed over (glibc clears the owner just
  // before the release) or records no owner; kOwnerDied for a robust mutex whose owner ended
  // holding it. kJoin: the joined thread's tid.
  pid_t owner = 0;
  char type[96] = {};  // kFuture: the shared state's type name (typeinfo, mangled)
};
constexpr pid_t kOwnerDied = 0x7fffffff;  // glibc's PTHREAD_MUTEX_INCONSISTENT

// glibc's pthread_mutex_t (x86_64): __lock +0, __count +4, __owner +8, __nusers +12, __kind +16.
// Also how the sampler finds the loader's own locks (sampler.cc).
struct MutexWords {
  int lock;
  unsigned count;
  int owner;
  unsigned nusers;
  int kind;
};

// Reads the objects the arguments point to (with process_vm_readv: an address that is not
// readable is no fault). Async-signal-safe.
WaitTarget wait_target(const Syscall& call);

// "read", "futex", "clock_nanosleep"... for the x86_64 numbers loopsan describes, else null.
const char* syscall_name(long nr);
const char* kind_name(WaitTarget::Kind kind);

// The call as a report's "waiting_in" value: the system call's name ("syscall 123" for one
// without a name), "running", or "exited".
std::string waiting_in(const Syscall& call);
// "waiting_for" as a JSON object ({"kind":"mutex","object":"0x..","owner_tid":N} ...), or
// "null" when there is nothing to say.
std::string waiting_for_json(const WaitTarget& target);

// What descriptor `fd` of this process is: its path, or "socket:[inode]", "pipe:[inode]"
// (/proc/self/fd), and for a connected socket its peer ("127.0.0.1:8080", "[::1]:53", a unix
// socket's path). Empty strings where unknown. Not for signal handlers.
struct DescriptorInfo {
  std::string path;
  std::string peer;
};
DescriptorInfo describe_descriptor(int fd);
// "descriptor 5 (socket:[123], peer 127.0.0.1:8080)", for messages.
std::string descriptor_words(int fd);

// The kernel's name of thread `tid` (/proc/self/task/TID/comm), empty when it is gone.
std::string task_name(pid_t tid);

// Tests only: the offset of the kernel tid in glibc's struct pthread (what pthread_join
// waits on), -1 when it could not be found.
int pthread_tid_offset_for_testing();

}  // namespace loopsan::parked
