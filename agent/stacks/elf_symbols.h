// Function names for addresses in an ELF object, from its .symtab (static functions too)
// or .dynsym, or from a separate debug file found by build-id (/usr/lib/debug/.build-id).
//
// Why not Abseil's symbolizer: it keeps the object files' descriptors open between calls, and
// hosts close every descriptor (daemons, subprocess children, close_range). Measured with
// tests/victims/loop_victim close-all: its cached descriptor numbers then pointed at the
// host's files and the next lookup never returned; clearing its cache would have closed the
// host's descriptors. Here a file is mapped once, read-only, and its descriptor is closed
// before the lookup: a mapping survives whatever the host does to its descriptors.
#pragma once

#include <cstdint>
#include <string>

namespace loopsan::elf_symbols {

// The demangled name of the function containing `vaddr` (an address relative to the
// object's load bias) in the object file at `path`; empty if unknown.
std::string function_at(const std::string& path, const std::string& build_id, uintptr_t vaddr);

// The file at `path` was unloaded: the next lookup reads it again (it may be a new file by
// then). The old table is leaked, not freed; see forget() in elf_symbols.cc.
void forget(const std::string& path);

// Tests only: whether a table (or the note that there is none) is cached for `path`.
bool cached_for_testing(const std::string& path);

// In a fork() child (core/module.h).
void reset_after_fork();

}  // namespace loopsan::elf_symbols
