"""A NOTIFY_SOCKET as systemd keeps one for a Type=notify service: binds a unix datagram socket at argv[1] and
prints each datagram sd_notify sends as one line, its KEY=VALUE lines joined with " | " (master/SystemdIT)."""
import os
import socket
import sys

path = sys.argv[1]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print("listening", flush=True)
while True:
    data = s.recv(65536).decode("utf-8", "replace")
    print(" | ".join(line for line in data.split("\n") if line), flush=True)
