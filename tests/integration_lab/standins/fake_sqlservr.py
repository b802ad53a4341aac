"""SIMULATED SQL Server on Linux, for tests only: a process named sqlservr
(as /proc/PID/comm shows it) that listens on 127.0.0.1:PORT, the two things
sql_static_port looks at. It writes its PID to PIDFILE and exits by itself
after LIFETIME seconds (or on SIGTERM).

    fake_sqlservr.py PORT PIDFILE LIFETIME
"""
import os
import socket
import sys
import time

port, pidfile, lifetime = int(sys.argv[1]), sys.argv[2], min(float(sys.argv[3]), 600)
with open("/proc/self/comm", "w") as comm:
    comm.write("sqlservr")
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(1)
with open(pidfile, "w") as handle:
    handle.write("%d\n" % os.getpid())
time.sleep(lifetime)
