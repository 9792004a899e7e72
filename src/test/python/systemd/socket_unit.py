"""What a systemd socket unit and its service do across `systemctl restart` (master/SystemdIT): the socket is
bound here, once, and outlives each start of the service, which gets it at descriptor 3 with LISTEN_FDS=1,
LISTEN_PID=its own pid and LISTEN_FDNAMES, as sd_listen_fds(3) wants. Connections that arrive while no
service runs wait in the socket's backlog.

usage: socket_unit.py PORT NAME -- COMMAND...; then lines on stdin: "start", "stop" (SIGTERM, wait), "restart"
(stop, then start, as systemctl restart does); each answered by a line on stdout ("started PID", "stopped CODE").
"""
import os
import signal
import socket
import sys

port, name, command = int(sys.argv[1]), sys.argv[2], sys.argv[4:]
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(4096)  # systemd's Backlog= default (SOMAXCONN)
child = None


def start():
    global child
    pid = os.fork()
    if pid == 0:
        if listener.fileno() != 3:
            os.dup2(listener.fileno(), 3)
        os.set_inheritable(3, True)  # a no-op dup2 (it may be 3 already) would leave it close-on-exec
        env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES=name)
        os.execvpe(command[0], command, env)
    child = pid
    print("started", pid, flush=True)


def stop():
    global child
    os.kill(child, signal.SIGTERM)
    _, status = os.waitpid(child, 0)
    child = None
    print("stopped", os.waitstatus_to_exitcode(status), flush=True)


print("listening", port, flush=True)
for line in sys.stdin:
    verb = line.strip()
    if verb == "start":
        start()
    elif verb == "stop":
        stop()
    elif verb == "restart":
        stop()
        start()
if child is not None:
    stop()
