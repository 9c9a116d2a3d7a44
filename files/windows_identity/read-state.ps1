# renderfarm.qube identity step read-state: the stored fingerprint record of the last registration
# (no secret in it).
$state = $null
if (Test-Path -LiteralPath $p.state_file) { $state = ConvertFrom-Json ([IO.File]::ReadAllText($p.state_file)) }
Write-Result @{ state = $state }
exit 0
