"""Offline stand-in for the get-pip.py bootstrap that ansible-test --venv
downloads from the internet. The test command copies it into ansible-test's
cache under the name ansible-test looks for; it installs pip with the
interpreter's own ensurepip, then the requested packages from the package
index pip is configured for."""
import os
import subprocess
import sys

# ensurepip brings no setuptools or wheel to refuse; pip does not know the options.
arguments = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
environment = dict(os.environ)
environment.pop("PIP_CONFIG_FILE", None)
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], env=environment)
subprocess.check_call([sys.executable, "-m", "pip", "install"] + arguments, env=environment)
