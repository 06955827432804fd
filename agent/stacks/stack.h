// Native stacks: capture with libunwind (cheap, IPs only) and symbolization into frames with
// module + offset + build-id (enough to symbolize offline) and, in-process, a function name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/stacks/depot.h"

namespace loopsan {

constexpr int kMaxStackDepth = 256;

struct Frame {
  uintptr_t ip = 0;
  std::string module;    // full path of the ELF object
  uintptr_t offset = 0;  // ip relative to the object's load bias (what addr2line takes)
  std::string build_id;  // hex, empty when the object has none
  std::string function;  // demangled, empty when unknown
};

// Call once at start-up: sets libunwind's caching policy and remembers which object is
// loopsan itself (`own_code` is any address in it), so its frames are left out of stacks.
void stack_init(const void* own_code);

// Captures up to min(max, stack_depth option) return addresses, innermost first, without
// loopsan's own frames, and interns them in the depot (0 when there are none or the depot is
// full). Takes no lock of ours and allocates nothing itself; safe wherever the host may throw an
// exception.
StackId capture_stack(int max = kMaxStackDepth);

// The same, into the caller's buffer and without interning: for a path where most stacks are
// thrown away unread (the throw ring of runtimes/cxx_exceptions), so that only the few that
// are kept pay for the depot's hash. Returns the number of frames written to `out` (at most
// `max`).
int capture_frames(uintptr_t* out, int max);

// The innermost `max` frames outside loopsan's code (the function that called a wrapper, its
// caller, ...): for each, its canonical frame address and the return address into its caller,
// stored just below that address while the function runs. Returns how many were found (0 when
// the unwinder is unusable). A few microseconds: for rare events such as a loop's first wait,
// not for every call.
int caller_frames(uintptr_t* cfa, uintptr_t* return_address, int max);

// Walks the stack of another thread of this process from two of its registers, on the
// calling thread: `pc` (the exact instruction it is stopped at, not a return address) and `sp`
// (a thread parked in a system call: agent/stacks/parked_stack.h). Writes return addresses
// into `out`, innermost first (out[0] = pc), without loopsan's own frames, and returns how
// many (at most `max`; 0 when the unwinder is unusable, as in a fork() child). The other
// registers are unknown (zero): a frame whose caller needs its frame pointer ends the walk.
// The memory read belongs to a thread that may wake up meanwhile: libunwind validates each
// read, so a stack that changes gives wrong frames, never a fault (the caller re-checks that
// the thread did not move). Not for signal handlers.
int unwind_registers(uintptr_t pc, uintptr_t sp, uintptr_t* out, int max);

// Resolves module, offset, build-id and function name for every frame. May take the loader's
// lock and read ELF files: call it with no agent lock held.
std::vector<Frame> symbolize(StackId stack);

// A library was unloaded (dlclose): forget what the symbolizer cached about it, so that
// another library mapped later at the same address, or a new file at the same path, is not
// described with the old one's build-id and symbols. Call it after the real dlclose()
// returned (take `load_bias` = link_map::l_addr and `path` = l_name before); harmless when
// the library stayed loaded (it is read again at its next frame). Takes agent locks: not
// from a signal handler.
void library_unloaded(uintptr_t load_bias, const char* path);

// True for an address inside libunwind (see agent/stacks/unwinder_pipe.h).
bool is_unwinder_code(const void* address);
// True for an address inside loopsan itself (the shim); false when the agent is linked into a
// program. Async-signal-safe.
bool is_own_code(uintptr_t address);

// In a fork() child (core/module.h). A child forked while another thread was inside
// libunwind unwinds with libgcc's unwinder: libunwind may hold a lock of its own there.
void stack_reset_after_fork();
// Tests only: unwind with libgcc's unwinder, as such a child does.
void use_fork_safe_unwinder_for_testing(bool on);

// The address range of the loaded object (all its segments) that contains `address`.
struct CodeRange {
  uintptr_t begin = 0;
  uintptr_t end = 0;
  bool contains(const void* p) const {
    auto a = reinterpret_cast<uintptr_t>(p);
    return a >= begin && a < end;
  }
};
CodeRange code_range_of(const void* address);

// The module basename + offset signature of a frame, for stable finding ids.
std::string module_basename(const std::string& path);

// Tests only: whether the symbolizer holds a build-id for `load_bias`.
bool build_id_cached_for_testing(uintptr_t load_bias);

}  // namespace loopsan
