# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows path of ``qube_identity``: register the job identity's credential and validate it over WinRM.

The controller talks to the worker with pywinrm, message encryption always on (NTLM/Kerberos
session encryption over HTTP, TLS over HTTPS).  Everything runs in ONE WinRS shell as PowerShell
scripts sent with ``-EncodedCommand``.  Secrets never appear in a script text, a command line or
any output: the controller writes them base64-encoded to the remote process's stdin, which travels
only inside the encrypted WinRM body.  Scripts (each starts with ``# renderfarm.qube
winrm_identity <step>``; non-secret parameters as one JSON literal) and their order:

1. ``read-state``  - the stored fingerprint (PBKDF2-SHA256, salted) of the last registered
   password, from ``C:\\ProgramData\\renderfarm-qube\\identity-<account>.json`` (ACL SYSTEM +
   Administrators), and whether qb.conf still holds ``proxy_password``.
2. ``register``    - only when the password is new/changed (and not in check mode):
   ``local``: ``qbhash.exe`` (password on stdin) -> ``proxy_password`` in
   ``C:\\ProgramData\\pfx\\qube\\qb.conf``; ``central``: ``qbhash.exe`` -> returned hash;
   ``qblogin``: ``qblogin.exe --user U [--domain D]`` (password twice on stdin).  Then the new
   fingerprint (sent on stdin as well) is written to the state file.
3. ``validate``    - ``LogonUser`` as DOMAIN\\account (batch logon, the way a service-mode worker
   starts jobs), identity (name, SID, groups, profile), each logon right as a logon of that type,
   UNC read/write/delete probes while impersonating, and the optional command as the identity.

:func:`run` returns ``{changed, registered, proxy_password_hash?, validation, msg, failed}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import hmac
import json
import os
import re
import time

PBKDF2_ITERATIONS = 200000
DEFAULT_BIN_DIR = "C:\\Program Files\\pfx\\qube\\bin"
QB_CONF = "C:\\ProgramData\\pfx\\qube\\qb.conf"
STATE_DIR = "C:\\ProgramData\\renderfarm-qube"
MARKER = "# renderfarm.qube winrm_identity "

# Win32 logon errors -> (code, what is wrong (%(who)s = DOMAIN\\account), how to fix it)
WIN32_ERRORS = {
    1326: ("wrong_password", "Windows refused the password of %(who)s (error 1326: unknown user name or bad password)",
           "put the account's current password in the vault, or reset the account to the vaulted password"),
    1331: ("account_disabled", "the account %(who)s is disabled (error 1331)",
           "enable the account (AD: Active Directory Users and Computers / samba-tool user enable; local: net user)"),
    1793: ("account_expired", "the account %(who)s has expired (error 1793)",
           "extend or clear the account's expiry date"),
    1907: ("password_must_change", "%(who)s must change its password before logging on (error 1907)",
           "set a new password, store it in the vault, and clear 'user must change password at next logon'"),
    1909: ("account_locked", "the account %(who)s is locked out (error 1909)",
           "unlock the account, then find what keeps sending an old password"),
    1330: ("password_expired", "the password of %(who)s has expired (error 1330)",
           "set a new password in AD and the vault, and set 'password never expires' on the account"),
    1385: ("logon_type_not_granted", "%(who)s has not been granted the requested logon type on this worker "
           "(error 1385)", "grant the account the right (e.g. SeBatchLogonRight 'Log on as a batch job' with "
           "ansible.windows.win_user_right) and check that no GPO removes it"),
    5: ("access_denied", "access denied for %(who)s (error 5)",
        "grant the account the missing permission on the share and on the folder (NTFS ACL)"),
}
RIGHT_LOGON_TYPES = {"SeInteractiveLogonRight": 2, "SeNetworkLogonRight": 3, "SeBatchLogonRight": 4,
                     "SeServiceLogonRight": 5}

_PS_PRELUDE = r"""$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$p = ConvertFrom-Json -InputObject '%(params)s'
$stdin = @($input)
function Read-Secret([int]$Index) { [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($stdin[$Index])) }
function Write-Result($Object) { [Console]::Out.WriteLine((ConvertTo-Json -InputObject $Object -Compress -Depth 6)) }
function Protect-Path([string]$Path) {
    $acl = Get-Acl -LiteralPath $Path
    $acl.SetAccessRuleProtection($true, $false)
    @($acl.Access) | ForEach-Object { [void]$acl.RemoveAccessRule($_) }
    foreach ($sid in 'S-1-5-18', 'S-1-5-32-544') {
        $who = New-Object Security.Principal.SecurityIdentifier($sid)
        $acl.AddAccessRule((New-Object Security.AccessControl.FileSystemAccessRule($who, 'FullControl', 'Allow')))
    }
    Set-Acl -LiteralPath $Path -AclObject $acl
}
"""

_PS_READ_STATE = r"""$state = $null
if (Test-Path -LiteralPath $p.state_file) { $state = ConvertFrom-Json ([IO.File]::ReadAllText($p.state_file)) }
$present = $false
if (Test-Path -LiteralPath $p.qb_conf) {
    $present = [bool](@([IO.File]::ReadAllLines($p.qb_conf)) -match '^\s*proxy_password\s*=\s*\S')
}
Write-Result @{ state = $state; qbconf_proxy_password = $present }
"""

_PS_REGISTER = r"""$password = Read-Secret 0
$result = @{ ok = $true }
if ($p.mode -eq 'qblogin') {
    $loginArgs = @('--user', $p.account)
    if ($p.domain) { $loginArgs += @('--domain', $p.domain) }
    $said = (@($password, $password) | & (Join-Path $p.bin_dir 'qblogin.exe') @loginArgs 2>&1 | Out-String)
    if ($LASTEXITCODE -ne 0) {
        Write-Result @{ ok = $false; step = 'qblogin'; exit_code = $LASTEXITCODE; output = $said.Replace($password, '********') }
        exit 0
    }
} else {
    $hash = ($password | & (Join-Path $p.bin_dir 'qbhash.exe') | Out-String).Trim()
    if ($LASTEXITCODE -ne 0 -or -not $hash) {
        Write-Result @{ ok = $false; step = 'qbhash'; exit_code = $LASTEXITCODE; output = '' }
        exit 0
    }
    if ($p.mode -eq 'local') {
        $lines = @(); if (Test-Path -LiteralPath $p.qb_conf) { $lines = @([IO.File]::ReadAllLines($p.qb_conf)) }
        $out = New-Object Collections.Generic.List[string]; $done = $false
        foreach ($line in $lines) {
            if ($line -match '^\s*proxy_password\s*=') { if (-not $done) { $out.Add("proxy_password = $hash"); $done = $true } }
            else { $out.Add($line) }
        }
        if (-not $done) { $out.Add("proxy_password = $hash") }
        [IO.File]::WriteAllLines($p.qb_conf, $out)
        Protect-Path $p.qb_conf
    } else { $result.proxy_password_hash = $hash }
}
New-Item -ItemType Directory -Force -Path $p.state_dir | Out-Null
Protect-Path $p.state_dir
$state = @{ account = $p.principal; register = $p.mode; fingerprint = $stdin[1] }
if ($p.mode -eq 'central') { $state.proxy_password_hash = $hash }
[IO.File]::WriteAllText($p.state_file, (ConvertTo-Json -InputObject $state -Compress))
Protect-Path $p.state_file
Write-Result $result
"""

_PS_VALIDATE = r"""Add-Type -TypeDefinition @'
using System; using System.Runtime.InteropServices;
public static class RfqLogon {
    [DllImport("advapi32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
    static extern bool LogonUserW(string user, string domain, IntPtr password, int type, int provider, out IntPtr token);
    [DllImport("kernel32.dll")] public static extern bool CloseHandle(IntPtr handle);
    public static int Logon(string user, string domain, System.Security.SecureString password, int type, out IntPtr token) {
        IntPtr plain = Marshal.SecureStringToGlobalAllocUnicode(password);
        try { return LogonUserW(user, domain, plain, type, 0, out token) ? 0 : Marshal.GetLastWin32Error(); }
        finally { Marshal.ZeroFreeGlobalAllocUnicode(plain); }
    }
}
'@
$secure = New-Object Security.SecureString
foreach ($c in (Read-Secret 0).ToCharArray()) { $secure.AppendChar($c) }
function Test-Logon([int]$Type) {
    $token = [IntPtr]::Zero; $err = [RfqLogon]::Logon($p.account, $p.domain, $secure, $Type, [ref]$token)
    return @{ error = $err; token = $token }
}
function Get-Win32Error($Exception) {
    if ($Exception -is [UnauthorizedAccessException]) { return 5 }
    return ($Exception.HResult -band 0xFFFF)
}
$first = Test-Logon 4
$result = @{ logon = @{ type = 'batch'; error = $first.error }; checks = @() }
if ($first.error -ne 0) { Write-Result $result; exit 0 }
$id = New-Object Security.Principal.WindowsIdentity($first.token)
$groups = @($id.Groups | ForEach-Object { try { $_.Translate([Security.Principal.NTAccount]).Value } catch { $_.Value } })
$profile = Get-CimInstance Win32_UserProfile -Filter ("SID='{0}'" -f $id.User.Value) -ErrorAction SilentlyContinue
$result.identity = @{ user = $id.Name; sid = $id.User.Value; groups = $groups; home = $profile.LocalPath
    admin = [bool]($id.Groups | Where-Object { $_.Value -eq 'S-1-5-32-544' }) }
foreach ($right in $p.rights) {
    $try = Test-Logon ([int]$p.right_types.$right)
    if ($try.error -eq 0) { [void][RfqLogon]::CloseHandle($try.token) }
    $result.checks += @{ name = "right:$right"; error = $try.error }
}
foreach ($path in $p.paths) {
    [Security.Principal.WindowsIdentity]::RunImpersonated($id.AccessToken, [Action]{
        $probe = Join-Path $path ('.rfq-probe-{0}.tmp' -f [guid]::NewGuid())
        foreach ($op in 'read', 'write', 'delete') {
            $err = 0
            try {
                if ($op -eq 'read') { [void]@([IO.Directory]::EnumerateFileSystemEntries($path) | Select-Object -First 1) }
                elseif ($op -eq 'write') { [IO.File]::WriteAllText($probe, 'renderfarm.qube probe') }
                else { [IO.File]::Delete($probe) }
            } catch { $err = Get-Win32Error $_.Exception.InnerException }
            $script:result.checks += @{ name = "path:${op}:$path"; error = $err }
            if ($op -eq 'read' -and $err -ne 0) { break }
            if ($op -eq 'write' -and $err -ne 0) { break }
        }
    })
}
if ($p.command) {
    $cred = New-Object Management.Automation.PSCredential(("{0}\{1}" -f $p.domain, $p.account), $secure)
    $out = [IO.Path]::GetTempFileName(); $err = [IO.Path]::GetTempFileName()
    try {
        $proc = Start-Process -FilePath 'cmd.exe' -ArgumentList '/c', $p.command -Credential $cred -NoNewWindow `
            -PassThru -RedirectStandardOutput $out -RedirectStandardError $err
        if (-not $proc.WaitForExit([int]$p.timeout_s * 1000)) { $proc.Kill(); $code = -1 } else { $code = $proc.ExitCode }
        $text = ([IO.File]::ReadAllText($out) + [IO.File]::ReadAllText($err))
        $result.checks += @{ name = 'command'; error = 0; exit_code = $code; output = $text.Substring(0, [Math]::Min(2000, $text.Length)) }
    } catch { $result.checks += @{ name = 'command'; error = (Get-Win32Error $_.Exception); exit_code = -1; output = '' } }
    finally { Remove-Item -LiteralPath $out, $err -ErrorAction SilentlyContinue }
}
[void][RfqLogon]::CloseHandle($first.token)
Write-Result $result
"""

SCRIPTS = {"read-state": _PS_READ_STATE, "register": _PS_REGISTER, "validate": _PS_VALIDATE}


class IdentityError(Exception):
    """A failure with a structured ``{code, message, fix}`` that never contains a secret."""

    def __init__(self, code, message, fix):
        super(IdentityError, self).__init__(message)
        self.error = {"code": code, "message": message, "fix": fix}


def scrub(text, secrets):
    """``text`` with every secret (and its base64 form) replaced by ``********``."""
    text = "%s" % (text,)
    for secret in secrets:
        if secret:
            for form in (secret, base64.b64encode(secret.encode("utf-8")).decode("ascii")):
                text = text.replace(form, "********")
    return text


def fingerprint(password, salt=None, iterations=PBKDF2_ITERATIONS):
    """``pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`` of ``password`` (random salt by default)."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return "pbkdf2-sha256$%d$%s$%s" % (iterations, base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


def fingerprint_matches(password, stored):
    """True when ``stored`` (see :func:`fingerprint`) was made from ``password``."""
    try:
        scheme, iterations, salt, _digest = (stored or "").split("$")
        if scheme != "pbkdf2-sha256":
            return False
        expected = fingerprint(password, base64.b64decode(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, stored)


def principal(account, domain):
    """``DOMAIN\\account`` (``.\\account`` for a local account)."""
    if "\\" in account or "@" in account:
        return account
    return "%s\\%s" % (domain or ".", account)


def build_script(step, params):
    """The PowerShell text of one step with its non-secret ``params`` as a JSON literal."""
    literal = json.dumps(params, sort_keys=True).replace("'", "''")
    return MARKER + step + "\n" + (_PS_PRELUDE % {"params": literal}) + SCRIPTS[step]


def encoded_command(script):
    """The ``powershell.exe`` arguments that run ``script`` (UTF-16LE, base64)."""
    return ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand",
            base64.b64encode(script.encode("utf-16-le")).decode("ascii")]


def win32_error(number, who, detail=""):
    """``{code, message, fix}`` for a Win32 error number."""
    code, message, fix = WIN32_ERRORS.get(number, ("win32_%d" % number, "Windows error %d for %%(who)s" % number,
                                                   "look the error up (net helpmsg %d) and fix it on the worker" % number))
    message = message % {"who": who}
    return {"code": code, "message": message + (": " + detail if detail else ""), "fix": fix}


class WinRMSession:
    """One encrypted WinRM connection and one WinRS shell, reused for every step."""

    def __init__(self, params):
        try:
            from winrm.protocol import Protocol
        except ImportError:
            raise IdentityError("missing_library", "pywinrm is not installed on the controller",
                                "install the collection's requirements (pywinrm, pyspnego, requests-ntlm)")
        scheme = params.get("winrm_scheme") or "http"
        self.endpoint = "%s://%s:%d/wsman" % (scheme, params["winrm_host"], int(params.get("winrm_port") or 5985))
        self.admin = params.get("winrm_user") or ""
        timeout = max(int(params.get("validation_timeout") or 60), 20)
        self.protocol = Protocol(
            self.endpoint, transport=params.get("winrm_transport") or "ntlm", username=self.admin,
            password=params.get("winrm_password"),
            server_cert_validation="validate" if params.get("winrm_cert_validation", True) else "ignore",
            ca_trust_path=params.get("winrm_ca_trust_path"), proxy=None,
            # http: NTLM/Kerberos session encryption is mandatory; https: TLS protects the body.
            message_encryption="always" if scheme == "http" else "auto",
            operation_timeout_sec=timeout, read_timeout_sec=timeout + 10)
        self.shell_id = None

    def run(self, step, params, stdin_lines=()):
        """Run one script; returns its JSON result.  Secrets go only in ``stdin_lines`` (base64 on the wire)."""
        if self.shell_id is None:
            self.shell_id = self.protocol.open_shell(noprofile=True, codepage=65001)
        command_id = self.protocol.run_command(self.shell_id, "powershell.exe", encoded_command(build_script(step, params)))
        try:
            self.protocol.send_command_input(self.shell_id, command_id, "".join(
                base64.b64encode(line.encode("utf-8")).decode("ascii") + "\r\n" if i == 0 else line + "\r\n"
                for i, line in enumerate(stdin_lines)).encode("ascii"), end=True)
            stdout, stderr, exit_code = self.protocol.get_command_output(self.shell_id, command_id)
        finally:
            self.protocol.cleanup_command(self.shell_id, command_id)
        lines = [ln for ln in stdout.decode("utf-8", "replace").splitlines() if ln.strip().startswith("{")]
        if exit_code != 0 or not lines:
            raise IdentityError("remote_script_failed", "the %s step on %s failed (exit %s): %s" % (
                step, self.endpoint, exit_code, stderr.decode("utf-8", "replace").strip()[:500] or "no output"),
                "run the step by hand on the worker as %s and fix what it reports" % self.admin)
        return json.loads(lines[-1])

    def close(self):
        if self.shell_id is not None:
            try:
                self.protocol.close_shell(self.shell_id)
            except Exception:  # the shell dies with the connection anyway
                pass
            self.shell_id = None


def connection_error(exc, params):
    """Map a pywinrm/requests exception on the ADMIN connection to ``{code, message, fix}``."""
    name = type(exc).__name__
    where = "%s:%s" % (params.get("winrm_host"), params.get("winrm_port") or 5985)
    admin = params.get("winrm_user") or "?"
    if name == "InvalidCredentialsError":
        return {"code": "winrm_auth", "message": "WinRM on %s rejected the admin account %s (HTTP 401)" % (where, admin),
                "fix": "check winrm_user/winrm_password (ansible_user/ansible_password) and that the account may use "
                       "WinRM (member of Administrators or Remote Management Users)"}
    if name in ("ReadTimeout", "ConnectTimeout", "WinRMOperationTimeoutError", "Timeout"):
        return {"code": "winrm_timeout", "message": "WinRM on %s did not answer in time (%s)" % (where, name),
                "fix": "check that the worker is up and WinRM is listening; raise validation_timeout for slow hosts"}
    if name == "ConnectionError":
        return {"code": "winrm_unreachable", "message": "cannot connect to WinRM on %s" % where,
                "fix": "check winrm_host/winrm_port/winrm_scheme, the firewall and 'winrm quickconfig' on the worker"}
    if name == "WSManFaultError":
        return {"code": "winrm_fault", "message": "WinRM on %s answered with fault %s: %s" % (
            where, getattr(exc, "wsman_fault_code", None), getattr(exc, "reason", exc)),
            "fix": "check the WinRM service and its quotas on the worker (winrm get winrm/config)"}
    return {"code": "winrm_error", "message": "WinRM on %s failed: %s: %s" % (where, name, exc),
            "fix": "check the WinRM configuration of the worker and of the controller (pywinrm, pyspnego)"}


def _state_file(account):
    return "%s\\identity-%s.json" % (STATE_DIR, re.sub(r"[^A-Za-z0-9_.-]", "_", account).lower())


def _checks(raw, who, params):
    """Turn the validate script's raw result into ``checks`` and the first error."""
    checks, first_error = [], None
    logon = raw.get("logon") or {}
    if logon.get("error"):
        err = win32_error(int(logon["error"]), who)
        return [{"name": "logon", "ok": False, "detail": err["message"]}], err
    checks.append({"name": "logon", "ok": True, "detail": "batch logon as %s succeeded" % who})
    identity = raw.get("identity") or {}
    if identity.get("admin") and not params.get("allow_privileged"):
        first_error = {"code": "privileged_identity", "message": "%s is a member of Administrators" % who,
                       "fix": "use an unprivileged job identity, or set allow_privileged: true deliberately"}
        checks.append({"name": "unprivileged", "ok": False, "detail": first_error["message"]})
    for check in raw.get("checks") or []:
        number = int(check.get("error") or 0)
        ok = number == 0 and check.get("exit_code", 0) == 0
        if check["name"] == "command":
            detail = "exit %s: %s" % (check.get("exit_code"), (check.get("output") or "").strip()[:300])
            err = {"code": "command_failed", "message": "the validation command as %s failed (%s)" % (who, detail),
                   "fix": "run the validation command as the identity on the worker and fix what it reports"}
        else:
            err = win32_error(number, who, check["name"]) if number else None
            detail = err["message"] if err else "ok"
        checks.append({"name": check["name"], "ok": ok, "detail": scrub(detail, [params.get("password")])})
        if not ok and first_error is None:
            first_error = err
    return checks, first_error


def _validate(session, params, who):
    started = time.time()
    result = {"ok": False, "via": "direct", "platform": "windows", "identity": {}, "checks": []}
    domain = params.get("domain") or "."
    rights = ["SeBatchLogonRight"] + [r for r in params.get("validation_rights") or [] if r != "SeBatchLogonRight"]
    raw = session.run("validate", {
        "account": params["account"], "domain": domain, "paths": list(params.get("validation_paths") or []),
        "command": params.get("validation_command") or "", "timeout_s": int(params.get("validation_timeout") or 60),
        "rights": rights[1:], "right_types": RIGHT_LOGON_TYPES}, [params["password"]])
    identity = raw.get("identity") or {}
    if identity:
        result["identity"] = {"user": identity.get("user") or who, "sid": identity.get("sid"),
                              "groups": list(identity.get("groups") or []), "home": identity.get("home")}
    result["checks"], error = _checks(raw, who, params)
    result["duration_s"] = round(time.time() - started, 3)
    if error:
        result["error"] = error
    result["ok"] = error is None
    result["summary"] = "%s: %s" % (who, "all checks passed" if result["ok"] else error["message"])
    return result


def run(params, check_mode):
    """Register and/or validate the Windows job identity; see the module docstring for the result."""
    password = params.get("password") or ""
    account = params["account"]
    who = principal(account, params.get("domain"))
    register = params.get("register") or "none"
    result = {"changed": False, "registered": False, "failed": False, "msg": ""}
    session = None
    try:
        session = WinRMSession(params)
        if register != "none":
            _register(session, params, who, register, check_mode, result)
        if params.get("validate", True):
            result["validation"] = _validate(session, params, who)
            if not result["validation"]["ok"]:
                result["failed"] = True
    except IdentityError as exc:
        result.update(failed=True, validation=_failed_validation(exc.error))
    except Exception as exc:  # pywinrm/requests: map to a clear message naming the admin account
        result.update(failed=True, validation=_failed_validation(connection_error(exc, params)))
    finally:
        if session is not None:
            session.close()
    validation = result.get("validation")
    if validation and validation.get("error"):
        result["msg"] = "%s - %s" % (validation["error"]["message"], validation["error"]["fix"])
    else:
        result["msg"] = "%s for %s%s" % ("registered (%s)" % register if result["changed"] else "credential unchanged",
                                         who, ", validation passed" if validation else "")
    return json.loads(scrub(json.dumps(result), [password, params.get("winrm_password")]))


def _register(session, params, who, register, check_mode, result):
    if not params.get("password"):
        raise IdentityError("missing_password", "register: %s needs the password of %s" % (register, who),
                            "set the password (qube_proxy_password from the vault)")
    common = {"state_file": _state_file(who), "qb_conf": QB_CONF}
    state = session.run("read-state", common)
    stored = state.get("state") or {}
    same = fingerprint_matches(params["password"], stored.get("fingerprint")) and stored.get("register") == register
    if register == "local" and not state.get("qbconf_proxy_password"):
        same = False
    if register == "central" and not stored.get("proxy_password_hash"):
        same = False
    needed = not stored or (not same and params.get("update_password", "always") == "always")
    if not needed:
        if register == "central":
            result["proxy_password_hash"] = stored.get("proxy_password_hash")
        return
    result["changed"] = True
    if check_mode:
        return
    done = session.run("register", dict(common, mode=register, account=params["account"],
                                        domain=params.get("domain") or "", principal=who, state_dir=STATE_DIR,
                                        bin_dir=params.get("qube_bin_dir") or DEFAULT_BIN_DIR),
                       [params["password"], fingerprint(params["password"])])
    if not done.get("ok"):
        raise IdentityError("%s_failed" % done.get("step"), "%s.exe for %s failed (exit %s): %s" % (
            done.get("step"), who, done.get("exit_code"), (done.get("output") or "").strip()[:300]),
            "check the Qube! installation in %s on the worker" % (params.get("qube_bin_dir") or DEFAULT_BIN_DIR))
    result["registered"] = True
    if register == "central":
        result["proxy_password_hash"] = done.get("proxy_password_hash")


def _failed_validation(error):
    return {"ok": False, "via": "direct", "platform": "windows", "identity": {}, "checks": [], "duration_s": 0.0,
            "error": error, "summary": error["message"]}
