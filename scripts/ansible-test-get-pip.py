# Local stand-in for ansible-test's pip bootstrap (its download host is unreachable here):
# bootstrap pip from the interpreter's bundled wheel, then install the requested version from PyPI.
import subprocess
import sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
args = [a for a in sys.argv[1:] if a.startswith("pip")] or ["pip==24.2"]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q"] + args)
