"""The guarded replace's first guard token: when the write after it is
refused, the error says the token was written (the only write of the run)."""
import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._guarded_write import GUARD_ATTRIBUTE, guarded_replace
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import DirectoryEntry, LdapError

DN = "CN=SQL6,OU=SQL Servers,DC=corp,DC=example,DC=test"


class RefusingClient:
    """Lets the guard token's add through, refuses every other modify."""

    def __init__(self):
        self.tokens = []
        self.modifies = []

    def modify(self, dn, changes, controls=None):
        self.modifies.append(changes)
        if list(changes) == [GUARD_ATTRIBUTE]:
            self.tokens += changes[GUARD_ATTRIBUTE][0][1]
            return
        raise LdapError("modifying %s failed: insufficientAccessRights" % dn, result="insufficientAccessRights")

    def read(self):
        return DirectoryEntry(DN, {"userAccountControl": [b"528384"],
                                   GUARD_ATTRIBUTE: [token.encode() for token in self.tokens]})


def test_a_refusal_after_the_first_guard_token_says_the_token_was_written():
    client = RefusingClient()
    with pytest.raises(LdapError) as raised:
        guarded_replace(client, DN, "userAccountControl", client.read, lambda values: ("4096",), "clearing", text=True)
    assert len(client.modifies) == 2 and len(client.tokens) == 1
    assert raised.value.result == "insufficientAccessRights"
    assert "written before the refusal: a guard value in extensionName of %s" % DN in str(raised.value)


def test_a_refusal_with_a_token_already_there_writes_and_claims_nothing():
    client = RefusingClient()
    client.tokens = ["sqlauth.kerberos:guard:00"]
    with pytest.raises(LdapError) as raised:
        guarded_replace(client, DN, "userAccountControl", client.read, lambda values: ("4096",), "clearing", text=True)
    assert len(client.modifies) == 1
    assert "written before the refusal" not in str(raised.value)
