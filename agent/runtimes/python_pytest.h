// The pytest plugin (tools/python/loopsan.py), carried in the shim so that pytest run under
// loopsan loads it with nothing installed.
//
// python_hooks.py gets two builtins and, with them, puts a meta path finder last on
// sys.meta_path that serves the plugin as the module `loopsan` and answers importlib.metadata
// with a distribution `loopsan` whose entry point (group pytest11) pytest autoloads. Both
// builtins run only when something asks: a program that is not pytest never compiles the
// plugin.
#pragma once

namespace loopsan::python_pytest {

// Adds _loopsan_pytest_plugin() (the plugin's code object) and _loopsan_version() (this
// shim's version, a str) to python_hooks.py's globals (a dict). False when it could not.
bool add_builtins(void* globals);

}  // namespace loopsan::python_pytest
