# renderfarm.qube - the only text on the command line (powershell -EncodedCommand, after the
# step's marker line): the step's script arrives as the first stdin line (base64 UTF-8), the
# secrets as the following lines, so the command line stays short (cmd.exe's 8191 characters)
# and holds no parameter and no secret.
$rfqInput = @($input)
$stdin = @($rfqInput | Select-Object -Skip 1)
. ([ScriptBlock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($rfqInput[0]))))
