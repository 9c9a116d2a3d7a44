# renderfarm.qube - helpers every identity step starts with (plugins/plugin_utils/identity_action.py
# puts this after the step's marker line and its $p parameter line).
# Secrets arrive only on stdin, one base64 line each, after the script itself (bootstrap.ps1 puts
# them in $stdin); results leave as one JSON line on the output stream (Write-Output, so a PSRP
# runspace returns it too). Each step ends with 'exit 0' once its result is out, so the exit code
# is 0 under powershell.exe and under PSRP alike (PSRP would otherwise report 1 for any error record
# on the way, such as a failing qblogin.exe).
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
function Read-Secret([int]$Index) { [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($stdin[$Index])) }
function Write-Result($Object) { Write-Output (ConvertTo-Json -InputObject $Object -Compress -Depth 6) }
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
