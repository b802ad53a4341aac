# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PowerShell script the collection runs on Windows hosts over WinRM
(_winrm.py), and nothing else: AnsiballZ ships only Python files, so the
script is a Python string. The tests parse it with a real PowerShell
grammar (tree-sitter-powershell) and run its operations against a
simulated host (tests/unit/plugins/simulated_windows.py); it has never run
on Windows here."""
from __future__ import annotations

# The remote primitive. It runs as the body of a script block whose only
# argument is the base64 batch: & { <REMOTE_SCRIPT> } '<base64>'.
# Batch: {"operations": [...]}, each one of
#   {"op": "read", "key": "SOFTWARE\\...", "depth": 0|1}  -> exists, values {name: {kind, data}}, subkeys {name: ...}
#   {"op": "write", "key": "SOFTWARE\\...", "values": {name: {kind: String|DWord, data}}}  -> written
#   {"op": "service", "name": "..."}  -> exists, status, dependents [{name, status}], listening [ports] or null
#   {"op": "restart"|"start", "name": "...", "timeout": seconds}  -> as service, once Running
# Output: base64 of the UTF-8 JSON {"results": [...]}; the first operation
# that fails ends the batch, its result carrying "error".
REMOTE_SCRIPT = r"""param([string]$Batch)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Add-Type -AssemblyName System.ServiceProcess
$LM = [Microsoft.Win32.Registry]::LocalMachine
function Read-Key($Key, [int]$Depth) {
  $r = @{ exists = $true; values = @{}; subkeys = @{} }
  foreach ($n in $Key.GetValueNames()) {
    $r.values[$n] = @{ kind = [string]$Key.GetValueKind($n); data = $Key.GetValue($n, $null, 'DoNotExpandEnvironmentNames') }
  }
  foreach ($s in $Key.GetSubKeyNames()) {
    $r.subkeys[$s] = $null
    if ($Depth -gt 0) {
      $k = $Key.OpenSubKey($s)
      if ($k) { $r.subkeys[$s] = Read-Key $k ($Depth - 1); $k.Close() }
    }
  }
  $r
}
function Find-Service([string]$Name) {
  foreach ($s in [System.ServiceProcess.ServiceController]::GetServices()) {
    if ($s.ServiceName -eq $Name) { return $s }
  }
  $null
}
function Wait-Service($Svc, [string]$Status, [DateTime]$Until) {
  $left = $Until - [DateTime]::UtcNow
  if ($left -lt [TimeSpan]::Zero) { $left = [TimeSpan]::Zero }
  $Svc.WaitForStatus($Status, $left)
}
function Get-State($Svc) {
  $Svc.Refresh()
  $r = @{ exists = $true; status = [string]$Svc.Status; dependents = @(); listening = $null }
  foreach ($d in $Svc.DependentServices) { $r.dependents += @{ name = $d.ServiceName; status = [string]$d.Status } }
  if ($r.status -eq 'Running' -and (Get-Command Get-NetTCPConnection -ErrorAction SilentlyContinue)) {
    try {
      $w = Get-CimInstance -ClassName Win32_Service | Where-Object { $_.Name -eq $Svc.ServiceName }
      $r.listening = @(Get-NetTCPConnection -State Listen -OwningProcess $w.ProcessId -ErrorAction SilentlyContinue |
        ForEach-Object { [int]$_.LocalPort } | Sort-Object -Unique)
    } catch { $r.listening = $null }
  }
  $r
}
$doc = ConvertFrom-Json ([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($Batch)))
$results = New-Object System.Collections.ArrayList
foreach ($op in $doc.operations) {
  $r = @{}
  try {
    if ($op.op -eq 'read') {
      $k = $LM.OpenSubKey([string]$op.key)
      if ($k) { $r = Read-Key $k ([Math]::Min([int]$op.depth, 2)); $k.Close() } else { $r.exists = $false }
    } elseif ($op.op -eq 'write') {
      $k = $LM.OpenSubKey([string]$op.key, $true)
      if (-not $k) { throw 'registry key not found' }
      try {
        foreach ($p in $op.values.PSObject.Properties) {
          $kind = [string]$p.Value.kind
          if ($kind -eq 'DWord') { $data = [int]$p.Value.data }
          elseif ($kind -eq 'String') { $data = [string]$p.Value.data }
          else { throw 'unsupported value kind' }
          $k.SetValue([string]$p.Name, $data, [Microsoft.Win32.RegistryValueKind]$kind)
        }
      } finally { $k.Close() }
      $r.written = $true
    } elseif ($op.op -eq 'service') {
      $s = Find-Service ([string]$op.name)
      if ($s) { $r = Get-State $s } else { $r.exists = $false }
    } elseif ($op.op -eq 'restart' -or $op.op -eq 'start') {
      $s = Find-Service ([string]$op.name)
      if (-not $s) { throw 'service not found' }
      $until = [DateTime]::UtcNow.AddSeconds([int]$op.timeout)
      $s.Refresh()
      if ($op.op -eq 'restart' -and $s.Status -ne 'Stopped') {
        if ($s.Status -ne 'StopPending') { $s.Stop() }
        Wait-Service $s 'Stopped' $until
      }
      $s.Refresh()
      if ($s.Status -ne 'Running') {
        if ($s.Status -ne 'StartPending') { $s.Start() }
        Wait-Service $s 'Running' $until
      }
      $r = Get-State $s
    } else {
      throw 'unknown operation'
    }
  } catch {
    $r.error = $_.Exception.Message
    [void]$results.Add($r)
    break
  }
  [void]$results.Add($r)
}
$json = ConvertTo-Json -InputObject @{ results = $results.ToArray() } -Depth 10 -Compress
[Console]::Out.Write([Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($json)))"""
