# renderfarm.qube identity step read-state: the stored fingerprint record of the last registration
# (no secret in it) and whether qb.conf still holds an active proxy_password line.
$state = $null
if (Test-Path -LiteralPath $p.state_file) { $state = ConvertFrom-Json ([IO.File]::ReadAllText($p.state_file)) }
$present = $false
if (Test-Path -LiteralPath $p.qb_conf) {
    $present = [bool](@([IO.File]::ReadAllLines($p.qb_conf)) -match '^\s*proxy_password\s*=\s*\S')
}
Write-Result @{ state = $state; qbconf_proxy_password = $present }
exit 0
