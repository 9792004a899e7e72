# Run by the launcher with the chosen Python (python -c): reports, one "key=value" per line, what a worker
# needs to embed this Python through Jep. Never imports jep (it only works inside a JVM).
import glob
import importlib.util
import os
import re
import site
import sys
import sysconfig

def out(key, value):
    print("%s=%s" % (key, value))

out("executable", sys.executable)
out("version", "%d.%d.%d" % sys.version_info[:3])
out("cache_tag", sys.implementation.cache_tag)
out("prefix", sys.prefix)
out("shared", sysconfig.get_config_var("Py_ENABLE_SHARED") or 0)
out("include", sysconfig.get_paths().get("include", ""))
out("ext_suffix", sysconfig.get_config_var("EXT_SUFFIX") or "")
libdir = sysconfig.get_config_var("LIBDIR") or ""
ldlibrary = sysconfig.get_config_var("LDLIBRARY") or ""
out("libpython", os.path.join(libdir, ldlibrary) if libdir and ldlibrary else "")
paths = []
for p in (site.getsitepackages() if hasattr(site, "getsitepackages") else []) + [sysconfig.get_paths()["purelib"]]:
    if p not in paths and os.path.isdir(p):
        paths.append(p)
out("site_packages", os.pathsep.join(paths))
out("sys_path", os.pathsep.join(p for p in sys.path if p and os.path.abspath(p) != os.getcwd()))
spec = importlib.util.find_spec("jep")
if spec is None or not spec.submodule_search_locations:
    out("jep_dir", "")
else:
    jep_dir = list(spec.submodule_search_locations)[0]
    out("jep_dir", jep_dir)
    version = ""
    try:
        with open(os.path.join(jep_dir, "version.py")) as f:
            m = re.search(r"__VERSION__\s*=\s*['\"]([^'\"]+)", f.read())
            version = m.group(1) if m else ""
    except OSError:
        pass
    out("jep_version", version)
    out("jep_jars", os.pathsep.join(sorted(glob.glob(os.path.join(jep_dir, "jep-*.jar")))))
    natives = sorted(glob.glob(os.path.join(jep_dir, "jep.cpython-*.so")) + glob.glob(os.path.join(jep_dir, "libjep.so")))
    out("jep_natives", os.pathsep.join(natives))
