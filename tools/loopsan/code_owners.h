// Whose code a frame is: the user's, or a runtime's or library's that people do not act on.
// The text report uses this to point at the user's line first and to fold the rest; nothing
// is ever dropped from JSON.
#pragma once

#include <string>

namespace loopsan::cli {

// CPython itself: the python executable, libpython, and CPython's own extension modules
// (lib-dynload): the interpreter's internals in a merged Python + native stack.
bool interpreter_module(const std::string& module);

// Code that is not the user's: the C and C++ runtimes, the loader, the interpreters, loopsan.
bool system_module(const std::string& module);

// Python's own library (/usr/lib/python3.11/..., a pyenv's lib/python3.11/...), not
// site-packages or dist-packages.
bool stdlib_python(const std::string& file);

// A framework's or the C++ library's own machinery (asio's detail namespace, libstdc++'s
// reserved names, libuv's and GLib's internals, libffi, the process's and threads' start):
// folded in the default text when
// several come in a row.
bool library_internal(const std::string& function, const std::string& file,
                      const std::string& module);

}  // namespace loopsan::cli
