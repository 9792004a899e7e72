"""Loads _bridge_native in two isolated sub-interpreters (PEP 684: own GIL, multi-phase init required) and
builds an environ in each. CPython refuses a module without per-interpreter support with ImportError.
usage: python3.12+ test_subinterpreters.py MODULE_PATH"""
import sys
import textwrap

try:
    import _interpreters as interpreters  # 3.13
except ImportError:
    import _xxsubinterpreters as interpreters  # 3.12

CODE = textwrap.dedent('''
    import importlib.util, io, struct
    spec = importlib.util.spec_from_file_location("_bridge_native", PATH)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    m.configure({"wsgi.version": (1, 0)}, object, print, io.BytesIO, open, io.BytesIO)
    block = struct.pack("<H", 14) + b"REQUEST_METHOD" + struct.pack("<H", 3) + b"GET"
    env = m.environ_of(bytes([0]) + struct.pack("<H", len(block)) + bytes([0]) + block)
    assert env["REQUEST_METHOD"] == "GET" and env["wsgi.version"] == (1, 0), env
''').replace("PATH", repr(sys.argv[1]))

ids = [interpreters.create() for _ in range(2)]  # isolated is the default config
for i in ids:
    failure = interpreters.exec(i, CODE) if hasattr(interpreters, "exec") else interpreters.run_string(i, CODE)
    if failure is not None:
        sys.exit("sub-interpreter %s: %s" % (i, failure))
for i in ids:
    interpreters.destroy(i)
print("loaded in %d isolated sub-interpreters" % len(ids))
