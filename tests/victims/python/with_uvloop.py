"""`with_uvloop.py VICTIM [ARGS...]`: runs another victim with uvloop's event loop policy
installed (Debian's python3-uvloop), unchanged otherwise."""
import runpy
import sys

import uvloop

uvloop.install()
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
