"""A fake Windows worker for the WinRM double: the executor behind the WinRS shell.

It MODELS - it does not run PowerShell.  Commands it knows:

* ``qbhash.exe`` (password on stdin -> salted hex string) and ``qblogin.exe --user U [--domain D]``
  (password twice on stdin), directly or from the module's register script;
* ``powershell.exe ... -EncodedCommand <UTF-16LE base64>`` (as pywinrm or Ansible's powershell shell
  plugin sends it): the script is decoded; scripts that start with ``# renderfarm.qube winrm_identity
  <step>`` have their ``$p = ConvertFrom-Json -InputObject '...'`` parameters and stdin read, and the
  step's effect is emulated (read-state, register, validate).  When the command line holds the
  collection's bootstrap (``files/windows_identity/bootstrap.ps1``), the step's script is the first
  stdin line (base64) and the secrets the following lines, as the bootstrap reads them;
* ``whoami``, ``hostname``; anything else answers like cmd.exe for an unknown program.

State lives in memory: ``files`` (path -> text, case-insensitive, the fake file system holding
``C:\\ProgramData\\pfx\\qube\\qb.conf`` and the state files), ``acls`` (path -> principals),
``accounts`` (the local/domain user table with account states and logon rights) and ``shares``
(UNC prefix -> {principal or group: "r"/"rw"}).  ``calls`` records every qbhash/qblogin run and
every decoded script so tests can assert on what the module really asked for.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import re
from typing import Callable, Dict, List, Optional, Set

from .wsman import CommandRequest, CommandResult

MARKER = "# renderfarm.qube winrm_identity "
# The line of files/windows_identity/bootstrap.ps1 that runs the script read from stdin.
BOOTSTRAP_LINE = "[ScriptBlock]::Create("
QB_CONF = "c:\\programdata\\pfx\\qube\\qb.conf"
PROTECTED_ACL = ["NT AUTHORITY\\SYSTEM", "BUILTIN\\Administrators"]
LOGON_TYPE_RIGHTS = {2: "SeInteractiveLogonRight", 3: "SeNetworkLogonRight", 4: "SeBatchLogonRight",
                     5: "SeServiceLogonRight"}


@dataclasses.dataclass
class LocalAccount:
    """One account the fake worker knows (``name`` is ``DOMAIN\\user``)."""

    name: str
    password: str
    sid: str = "S-1-5-21-1004336348-1177238915-682003330-1001"
    groups: List[str] = dataclasses.field(default_factory=lambda: ["BUILTIN\\Users", "Everyone"])
    rights: Set[str] = dataclasses.field(default_factory=lambda: {"SeBatchLogonRight", "SeNetworkLogonRight"})
    state: str = "ok"   # ok | disabled | expired | must_change | locked
    home: Optional[str] = None


STATE_ERRORS = {"disabled": 1331, "expired": 1793, "must_change": 1907, "locked": 1909}
# The Win32 error each AD bind "data" sub-code corresponds to (AD mode).
AD_DATA_ERRORS = {"52e": 1326, "525": 1326, "530": 1328, "531": 1329, "532": 1330, "533": 1331, "701": 1793,
                  "773": 1907, "775": 1909}
# Password decider: (DOMAIN\\user, password) -> Win32 error (0 = the password is good and the account usable).
PasswordDecider = Callable[[str, str], int]


class FakeWindowsHost:
    """The in-memory worker.  ``decide_password`` replaces the user-table check (AD mode)."""

    def __init__(self, computer: str = "WINWORKER01", accounts: Optional[List[LocalAccount]] = None,
                 shares: Optional[Dict[str, Dict[str, str]]] = None,
                 decide_password: Optional[PasswordDecider] = None) -> None:
        self.computer = computer
        self.accounts = {a.name.lower(): a for a in accounts or []}
        self.shares = {k.lower().rstrip("\\"): v for k, v in (shares or {}).items()}
        self.decide_password = decide_password or self._table_password
        self.files: Dict[str, str] = {QB_CONF: "qb_supervisor = qube-sup01\nworker_cpus = 0\n"}
        self.acls: Dict[str, List[str]] = {QB_CONF: ["BUILTIN\\Users", "BUILTIN\\Administrators"]}
        self.calls: List[dict] = []
        self.probe_files: List[str] = []

    # -- executor entry point -------------------------------------------------------------------
    def __call__(self, request: CommandRequest) -> CommandResult:
        program = os.path.basename(request.command.replace("\\", "/")).lower()
        # pywinrm sends all arguments as one rsp:Arguments element; cmd.exe would split on blanks too.
        args = " ".join(request.arguments).split()
        if " " in request.command.strip():
            program, *head = request.command.split()
            program, args = os.path.basename(program.replace("\\", "/")).lower(), head + args
        if program in ("powershell", "powershell.exe"):
            return self._powershell(args, request)
        if program in ("qbhash", "qbhash.exe"):
            return self.qbhash(request.stdin)
        if program in ("qblogin", "qblogin.exe"):
            return self.qblogin(args, request.stdin)
        if program in ("whoami", "whoami.exe"):
            return CommandResult(stdout=request.owner.lower().encode() + b"\r\n")
        if program in ("hostname", "hostname.exe"):
            return CommandResult(stdout=self.computer.encode() + b"\r\n")
        return CommandResult(stderr=("'%s' is not recognized as an internal or external command,\r\noperable "
                                     "program or batch file.\r\n" % program).encode(), exit_code=1)

    # -- Qube! programs -------------------------------------------------------------------------
    def qbhash(self, stdin: bytes) -> CommandResult:
        """MODELLED qbhash: first stdin line -> salted hex (not Qube!'s real algorithm)."""
        password = stdin.decode("utf-8").splitlines()[0] if stdin else ""
        self.calls.append({"program": "qbhash", "args": [], "stdin_lines": 1 if stdin else 0})
        if not password:
            return CommandResult(stderr=b"qbhash: no password given\r\n", exit_code=1)
        salt = os.urandom(8)
        return CommandResult(stdout=(salt + hashlib.sha256(salt + password.encode()).digest()).hex().encode() + b"\r\n")

    def qblogin(self, args: List[str], stdin: bytes) -> CommandResult:
        """MODELLED qblogin: ``--user U [--domain D]``, password twice on stdin, checked like a logon."""
        lines = stdin.decode("utf-8").splitlines()
        user = args[args.index("--user") + 1] if "--user" in args else ""
        domain = args[args.index("--domain") + 1] if "--domain" in args else self.computer
        self.calls.append({"program": "qblogin", "args": list(args), "stdin_lines": len(lines)})
        if len(lines) < 2 or lines[0] != lines[1]:
            return CommandResult(stderr=b"qblogin: passwords do not match\r\n", exit_code=1)
        error = self.decide_password("%s\\%s" % (domain, user), lines[0])
        if error:
            return CommandResult(stderr=b"qblogin: the password could not be verified\r\n", exit_code=2)
        return CommandResult(stdout=b"password registered\r\n")

    # -- PowerShell ------------------------------------------------------------------------------
    def _powershell(self, args: List[str], request: CommandRequest) -> CommandResult:
        lowered = [a.lower() for a in args]
        flag = next((i for i, a in enumerate(lowered) if a in ("-encodedcommand", "-enc", "-e")), None)
        if flag is None or flag + 1 >= len(args):
            return CommandResult(stderr=b"The double only runs powershell -EncodedCommand.\r\n", exit_code=1)
        script = base64.b64decode(args[flag + 1]).decode("utf-16-le")
        stdin = request.stdin.decode("ascii").splitlines()
        if script.startswith(MARKER) and BOOTSTRAP_LINE in script and stdin:
            # The collection's bootstrap (files/windows_identity/bootstrap.ps1, as Ansible's powershell
            # shell plugin encodes it: lines stripped, blank lines dropped): the step's script is the
            # first stdin line (base64 UTF-8), the secrets follow.
            command_line = script
            script, stdin = base64.b64decode(stdin[0]).decode("utf-8"), stdin[1:]
        else:
            command_line = script
        self.calls.append({"program": "powershell", "script": script, "command_line": command_line,
                           "stdin_lines": len(stdin)})
        if not script.startswith(MARKER):
            return CommandResult(stderr=b"The double does not model this script.\r\n", exit_code=1)
        step = script[len(MARKER):].split("\n", 1)[0].strip()
        match = re.search(r"^\$p = ConvertFrom-Json -InputObject '((?:[^']|'')*)'$", script, re.M)
        params = json.loads(match.group(1).replace("''", "'")) if match else {}
        handler = {"read-state": self._read_state, "register": self._register, "validate": self._validate}.get(step)
        if handler is None:
            return CommandResult(stderr=("unknown step %s\r\n" % step).encode(), exit_code=1)
        return CommandResult(stdout=json.dumps(handler(params, stdin)).encode() + b"\r\n")

    @staticmethod
    def _secret(stdin: List[str], index: int) -> str:
        return base64.b64decode(stdin[index]).decode("utf-8") if len(stdin) > index else ""

    def _read_state(self, p: dict, stdin: List[str]) -> dict:
        state = self.files.get(p["state_file"].lower())
        return {"state": json.loads(state) if state else None}

    def _register(self, p: dict, stdin: List[str]) -> dict:
        password = self._secret(stdin, 0)
        result = {"ok": True}
        if p["mode"] == "qblogin":
            login_args = ["--user", p["account"]] + (["--domain", p["domain"]] if p.get("domain") else [])
            done = self.qblogin(login_args, ("%s\r\n%s\r\n" % (password, password)).encode())
            if done.exit_code:
                return {"ok": False, "step": "qblogin", "exit_code": done.exit_code, "output": done.stderr.decode()}
        else:
            done = self.qbhash(password.encode() + b"\r\n")
            if done.exit_code:
                return {"ok": False, "step": "qbhash", "exit_code": done.exit_code, "output": ""}
            result["proxy_password_hash"] = done.stdout.decode().strip()
        state = {"account": p["principal"], "register": p["mode"], "fingerprint": self._secret(stdin, 1)}
        if p["mode"] == "central":
            state["proxy_password_hash"] = result["proxy_password_hash"]
        self.acls[p["state_dir"].lower()] = list(PROTECTED_ACL)
        self.files[p["state_file"].lower()] = json.dumps(state)
        self.acls[p["state_file"].lower()] = list(PROTECTED_ACL)
        return result

    # -- logon and validation --------------------------------------------------------------------
    def account(self, name: str) -> Optional[LocalAccount]:
        domain, _, user = name.rpartition("\\")
        if domain in ("", "."):
            name = "%s\\%s" % (self.computer, user)
        return self.accounts.get(name.lower())

    def _table_password(self, name: str, password: str) -> int:
        entry = self.account(name)
        if entry is None or entry.password != password:
            return 1326
        return STATE_ERRORS.get(entry.state, 0)

    def logon(self, name: str, password: str, logon_type: int) -> int:
        """MODELLED LogonUser: password/account state first, then the right for ``logon_type``."""
        error = self.decide_password(name, password)
        if error:
            return error
        entry = self.account(name)
        if entry is None:  # known to the DC but not to this worker's rights table: no rights
            return 1385
        return 0 if LOGON_TYPE_RIGHTS.get(logon_type) in entry.rights else 1385

    def _validate(self, p: dict, stdin: List[str]) -> dict:
        name = "%s\\%s" % (p["domain"], p["account"])
        password = self._secret(stdin, 0)
        error = self.logon(name, password, 4)
        result = {"logon": {"type": "batch", "error": error}, "checks": []}
        if error:
            return result
        entry = self.account(name)
        result["identity"] = {"user": entry.name, "sid": entry.sid, "groups": list(entry.groups), "home": entry.home,
                              "admin": "BUILTIN\\Administrators" in entry.groups}
        for right in p.get("rights", []):
            code = self.logon(name, password, int(p["right_types"][right]))
            result["checks"].append({"name": "right:" + right, "error": code})
        for path in p.get("paths", []):
            for op in ("read", "write", "delete"):
                code = self.share_access(entry, path, op)
                result["checks"].append({"name": "path:%s:%s" % (op, path), "error": code})
                if op == "write" and code == 0:
                    self.probe_files.append(path)
                if code and op in ("read", "write"):
                    break
        if p.get("command"):
            done = self(CommandRequest(p["command"].split()[0], p["command"].split()[1:], b"", entry.name))
            result["checks"].append({"name": "command", "error": 0, "exit_code": done.exit_code,
                                     "output": (done.stdout + done.stderr).decode()})
        return result

    def share_access(self, entry: LocalAccount, path: str, op: str) -> int:
        """MODELLED share+NTFS check: 67 unknown share, 5 denied, 0 allowed."""
        key = path.lower().rstrip("\\")
        prefix = max((s for s in self.shares if key == s or key.startswith(s + "\\")), key=len, default=None)
        if prefix is None:
            return 67
        who = {entry.name.lower()} | {g.lower() for g in entry.groups}
        granted = "".join(mode for principal, mode in self.shares[prefix].items() if principal.lower() in who)
        needed = "r" if op == "read" else "w"
        return 0 if needed in granted else 5
