import sys

sys.exit(0)  # line 3: SystemExit while the app is imported must be a load error, not a clean exit

app = None
