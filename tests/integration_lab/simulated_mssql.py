"""SIMULATED SQL Server on Linux for the sql_static_port tests: the stand-in
`systemctl` (standins/fake_systemctl.py) that records its call and (re)starts
the stand-in `sqlservr` (standins/fake_sqlservr.py), which listens on
127.0.0.1 on the port mssql.conf gives. Only processes these tests start
are ever stopped, by their PID."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

STANDINS = Path(__file__).resolve().parent / "standins"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SimulatedSqlServer:
    def __init__(self, state, conf):
        self.state = Path(state)
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / "conf").write_text(str(conf))
        self.command = [sys.executable, str(STANDINS / "fake_systemctl.py"), str(self.state), "restart", "mssql-server"]

    def start(self, port):
        """Start it through the stand-in systemctl (not recorded as a module call)."""
        subprocess.run(self.command, check=True)
        (self.state / "calls.log").unlink()
        self.wait_listening(port)

    @staticmethod
    def wait_listening(port):
        for dummy in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise AssertionError("the simulated sqlservr does not listen on %d" % port)

    def calls(self):
        log = self.state / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def stop(self):
        pidfile = self.state / "sqlservr.pid"
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass
