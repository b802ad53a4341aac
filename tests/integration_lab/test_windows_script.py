"""The PowerShell the collection runs on Windows hosts (REMOTE_SCRIPT, as
installed from the tarball), parsed with a real PowerShell grammar
(tree-sitter-powershell, in the project's virtualenv): no ERROR or MISSING
node, and a broken copy is caught. There is no PowerShell here; the unit
tests run its operations against a simulated host. (Here rather than only in
the unit tests: ansible-test's unit venv has no tree-sitter, so they skip.)"""
import base64

from powershell_grammar import syntax_problems

from conftest import COLLECTIONS

from ansible_collections.sqlauth.kerberos.plugins.module_utils import _windows_script, _winrm


def test_the_installed_remote_script_parses_with_a_powershell_grammar():
    assert str(COLLECTIONS) in _windows_script.__file__
    assert syntax_problems(_windows_script.REMOTE_SCRIPT) == []
    # As sent: the script block with its base64 batch argument.
    sent = _winrm.powershell_script(base64.b64encode(b'{"operations":[]}').decode())
    assert syntax_problems(sent) == []


def test_a_broken_script_is_caught():
    broken = _windows_script.REMOTE_SCRIPT.replace("$Key.GetValueNames()) {", "$Key.GetValueNames() {", 1)
    assert broken != _windows_script.REMOTE_SCRIPT
    assert syntax_problems(broken)
