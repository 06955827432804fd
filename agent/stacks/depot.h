// The stack depot, after compiler-rt's sanitizer_stackdepot: every native stack (return
// addresses, innermost first) is stored once and named by a 32-bit StackId, so that records
// that keep a stack (throw rings, pinned exceptions, findings) hold 4 bytes instead of a copy.
//
// Made for the paths it serves: a C++ throw in the host, a wrapper in a vfork child, a fork
// at any moment. So: no malloc (memory comes from one raw mmap reservation), no lock at all
// (a lookup that finds the stack is a hash and a walk of one bucket; an insert publishes its
// node with one CAS), and therefore nothing to do around fork. Memory is bounded: once the
// reservation is used up, intern() returns 0 and callers simply have no stack.
#pragma once

#include <cstddef>
#include <cstdint>

namespace loopsan {

// 0 is "no stack": never captured, empty, or the depot is full.
using StackId = uint32_t;

namespace depot {

// A stored stack. Valid for the life of the process (stacks are never removed).
struct StackView {
  const uintptr_t* ips = nullptr;
  int size = 0;
};

// The id of the stack `ips[0..size)`: the same contents always get the same id. Returns 0 for
// an empty stack or when the depot is full. Async-signal-safe and lock-free.
StackId intern(const uintptr_t* ips, int size);

// The stack named by `id`; empty for 0.
StackView get(StackId id);

struct Stats {
  size_t stacks = 0;    // distinct stacks stored
  size_t bytes = 0;     // memory they use
  size_t dropped = 0;   // intern() calls that got 0 because the depot was full
  size_t capacity = 0;  // the cap on `bytes`
};
Stats stats();

// Tests only: lowers the cap (0 restores the default) to exercise the full depot cheaply.
void set_capacity_for_testing(size_t bytes);

}  // namespace depot
}  // namespace loopsan
