# renderfarm.qube identity step register: qbhash.exe (password on stdin) -> the encrypted string
# returned for qbwrk.conf (mode central; the local qb.conf on Windows never holds proxy_password);
# qblogin.exe (password twice on stdin) for a user-mode submitter (mode qblogin). Then the new
# fingerprint (stdin line 2) is kept in the state file (ACL SYSTEM + Administrators only).
$password = Read-Secret 0
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
    $result.proxy_password_hash = $hash
}
New-Item -ItemType Directory -Force -Path $p.state_dir | Out-Null
Protect-Path $p.state_dir
$state = @{ account = $p.principal; register = $p.mode; fingerprint = (Read-Secret 1) }
if ($p.mode -eq 'central') { $state.proxy_password_hash = $hash }
[IO.File]::WriteAllText($p.state_file, (ConvertTo-Json -InputObject $state -Compress))
Protect-Path $p.state_file
Write-Result $result
exit 0
