"""SIMULATED `systemctl restart mssql-server`, for tests only: records its
arguments in STATE/calls.log, stops the fake sqlservr whose PID is in
STATE/sqlservr.pid (only that process), and starts a new one on the port
mssql.conf (path in STATE/conf) gives, as SQL Server would at start.

    fake_systemctl.py STATE restart mssql-server
"""
import configparser
import json
import os
import signal
import subprocess
import sys
import time

state = sys.argv[1]
with open(os.path.join(state, "calls.log"), "a") as log:
    log.write(json.dumps(sys.argv[2:]) + "\n")
pidfile = os.path.join(state, "sqlservr.pid")
try:
    with open(pidfile) as handle:
        old = int(handle.read())
    os.kill(old, signal.SIGTERM)
    for dummy in range(50):
        if not os.path.exists("/proc/%d" % old) or "zombie" in open("/proc/%d/status" % old).read():
            break
        time.sleep(0.1)
except (FileNotFoundError, ProcessLookupError, ValueError):
    pass
with open(os.path.join(state, "conf")) as handle:
    conf_path = handle.read().strip()
parser = configparser.ConfigParser()
parser.read(conf_path)
port = parser.getint("network", "tcpport", fallback=1433)
subprocess.Popen([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_sqlservr.py"),
                  str(port), pidfile, "120"],
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                 start_new_session=True)
