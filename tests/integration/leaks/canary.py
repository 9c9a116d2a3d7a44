"""Canary passwords and a scanner that finds them in any encoding a tool is likely to use.

A canary is a recognisable password that exists nowhere but in the test's memory and, vaulted,
in its inventory. Finding one of its forms anywhere (output, logs, files, process arguments,
WinRM wire bytes) is a leak. Forms searched: the plain UTF-8 bytes, UTF-16LE (PowerShell,
Windows APIs), base64 at every byte alignment (of UTF-8 and of UTF-16LE, i.e. inside a longer
base64 string such as ``-EncodedCommand``), URL-encoded (``%21`` and ``+`` styles) and hex.
"""

import base64
import binascii
import dataclasses
import io
import os
import tarfile
from typing import Dict, Iterable, List
from urllib.parse import quote, quote_plus

# One canary per kind of secret the collection handles. All are unique random-looking strings so
# a hit can only come from the secret itself.
CANARIES = {
    "proxy": "Canary-Proxy-7f3a!",
    "rotated": "Canary-Rot-9b1c!",
    "user_windows": "Canary-User-2d4e!",
    "auto_logon": "Canary-Logon-5c6f!",
    "winrm_admin": "Canary-Admin-8e0b!",
    "ad": "Canary-AD-3e8a!",
}


def _base64_cores(data: bytes) -> List[bytes]:
    """The base64 text ``data`` produces inside a longer string, for each of the 3 alignments.

    Only the 4-character groups made purely of ``data`` bytes are kept, so the pattern matches
    whatever bytes surround the secret.
    """
    cores = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data)
        start = 4 if shift else 0
        end = ((shift + len(data)) // 3) * 4
        cores.append(encoded[start:end])
    return cores


def forms(secret: str) -> Dict[str, bytes]:
    """Every searched byte pattern of ``secret``, by a name of the encoding."""
    utf8, utf16 = secret.encode("utf-8"), secret.encode("utf-16-le")
    found = {"plain": utf8, "utf16le": utf16, "url": quote(secret, safe="").encode(),
             "url_plus": quote_plus(secret).encode(), "hex": binascii.hexlify(utf8),
             "HEX": binascii.hexlify(utf8).upper()}
    for i, core in enumerate(_base64_cores(utf8)):
        found["base64_%d" % i] = core
    for i, core in enumerate(_base64_cores(utf16)):
        found["base64_utf16le_%d" % i] = core
    return found


@dataclasses.dataclass(frozen=True)
class Hit:
    """One canary found: where (a human-readable location), which canary, in which form."""

    where: str
    canary: str
    form: str


class Scanner:
    """Searches byte blobs for every form of every canary; counts what it looked at."""

    def __init__(self, secrets: Dict[str, str]):
        self.patterns = [(name, form, pattern) for name, secret in secrets.items()
                         for form, pattern in forms(secret).items()]
        self.hits: List[Hit] = []
        self.blobs = 0
        self.bytes = 0

    def scan(self, where: str, data: bytes) -> List[Hit]:
        """Record and return the canaries in ``data`` (``where`` names the source)."""
        self.blobs += 1
        self.bytes += len(data)
        new = [Hit(where, name, form) for name, form, pattern in self.patterns if pattern in data]
        self.hits.extend(new)
        return new

    def scan_text(self, where: str, text: str) -> List[Hit]:
        return self.scan(where, text.encode("utf-8", "surrogateescape"))

    def scan_tree(self, where: str, root: str, skip: Iterable[str] = ()) -> None:
        """Scan every regular file under ``root`` (paths in ``skip`` are left out)."""
        skipped = {os.path.abspath(p) for p in skip}
        for folder, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                if os.path.abspath(path) in skipped or not os.path.isfile(path) or os.path.islink(path):
                    continue
                with open(path, "rb") as handle:
                    self.scan("%s:%s" % (where, os.path.relpath(path, root)), handle.read())

    def scan_tar(self, where: str, data: bytes) -> int:
        """Scan every regular file of a tar stream; returns how many files it held."""
        count = 0
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            for member in archive:
                if member.isfile():
                    handle = archive.extractfile(member)
                    if handle is not None:
                        self.scan("%s:/%s" % (where, member.name.lstrip("./")), handle.read())
                        count += 1
        return count

    def report(self) -> str:
        """The hits, one a line (empty when clean)."""
        return "\n".join("%s: canary %s (%s form)" % (h.where, h.canary, h.form) for h in self.hits)
