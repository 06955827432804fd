"""python3 marshal_python.py INPUT OUTPUT NAME: INPUT compiled by this Python (as "<loopsan>")
and marshalled into a C++ header: NAME[] (the bytes), NAME_size and NAME_magic (this Python's
bytecode magic number, as PyImport_GetMagicNumber() returns it). An interpreter with the same
magic loads the code as is; any other compiles the source (python_hooks.cc). Compiling
python_hooks.py costs several milliseconds at every Python start; loading it, a tenth of that."""
import importlib.util
import marshal
import sys

source_path, output, name = sys.argv[1:4]
with open(source_path, encoding="utf-8") as f:
    code = compile(f.read(), "<loopsan>", "exec", dont_inherit=True)
data = marshal.dumps(code)
magic = int.from_bytes(importlib.util.MAGIC_NUMBER, "little")
lines = [f"// Generated from {source_path} by {sys.executable} {sys.version.split()[0]}; do not edit.",
         "#pragma once", f"inline constexpr long {name}_magic = {magic};",
         f"inline constexpr unsigned long {name}_size = {len(data)};",
         f"alignas(8) inline constexpr unsigned char {name}[] = {{"]
for i in range(0, len(data), 24):
    lines.append("  " + ", ".join(str(b) for b in data[i:i + 24]) + ",")
lines.append("};")
with open(output, "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")
