"""Protocol-level WinRM double: see README.md in this folder."""

from .server import RecordedRequest, WinRMDouble  # noqa: F401
from .windows import FakeWindowsHost, LocalAccount  # noqa: F401
