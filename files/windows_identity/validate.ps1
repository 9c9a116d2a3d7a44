# renderfarm.qube identity step validate: LogonUser as DOMAIN\account with a batch logon (the way
# a service-mode worker starts jobs), the identity's name, SID, groups and profile, each extra
# logon right as a logon of its type, read/write/delete probes on the UNC paths while
# impersonating, and the optional command run as the identity. Win32 error numbers go back as they
# are; the controller names them.
Add-Type -TypeDefinition @'
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
        $proc = Start-Process -FilePath 'cmd.exe' -ArgumentList '/c', $p.command -Credential $cred -NoNewWindow -PassThru -RedirectStandardOutput $out -RedirectStandardError $err
        if (-not $proc.WaitForExit([int]$p.timeout_s * 1000)) { $proc.Kill(); $code = -1 } else { $code = $proc.ExitCode }
        $text = ([IO.File]::ReadAllText($out) + [IO.File]::ReadAllText($err))
        $result.checks += @{ name = 'command'; error = 0; exit_code = $code; output = $text.Substring(0, [Math]::Min(2000, $text.Length)) }
    } catch { $result.checks += @{ name = 'command'; error = (Get-Win32Error $_.Exception); exit_code = -1; output = '' } }
    finally { Remove-Item -LiteralPath $out, $err -ErrorAction SilentlyContinue }
}
[void][RfqLogon]::CloseHandle($first.token)
Write-Result $result
exit 0
