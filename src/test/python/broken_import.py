import json
import no_such_dependency_xyz  # line 2: ImportError at load

app = None
