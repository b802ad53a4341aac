"""The guarded replace's first guard token: when the write after it is
refused, the error says the token was written (the only write of the run);
and the batched form (guarded_replaces): a constant number of searches for
any number of objects, with every condition of the one-object form."""
import struct

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import with_writes
from ansible_collections.sqlauth.kerberos.plugins.module_utils._guarded_write import (
    GUARD_ATTRIBUTE,
    GUARD_PREFIX,
    GuardedReplace,
    guarded_replace,
    guarded_replaces,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import (
    MAX_FILTER_TERMS,
    DirectoryEntry,
    LdapError,
    normalize_dn,
    read_by_dn,
)
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.guard_token import dns_named, guard_values_after

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


# -- guarded_replaces: the reads batched --------------------------------------------

BASE = "DC=corp,DC=example,DC=test"
UAC = "userAccountControl"
TRUSTED = 0x80000


def user_dn(number):
    return "CN=sqlsvc%d,OU=SQL Servers,%s" % (number, BASE)


class GuardedObjects:
    """userAccountControl, guard tokens and the attribute's replication
    version of a few objects, as a DC answers: base reads, batched reads by
    DN (read_by_dn), replaces conditional on deleting the tokens read.
    ``before_modify``: other writers' changes, one made just before each
    modify arrives (None: no change)."""

    default_naming_context = BASE

    def __init__(self, count, guarded=()):
        self.values = {user_dn(n).lower(): str(0x200 | TRUSTED) for n in range(count)}
        self.dns = {user_dn(n).lower(): user_dn(n) for n in range(count)}
        self.tokens = {user_dn(n).lower(): [GUARD_PREFIX + "%016d" % n] if n in guarded else [] for n in range(count)}
        self.versions = {dn: 1 for dn in self.values}
        self.searches, self.base_reads, self.modifies = [], [], []
        self.before_modify = []

    def entry(self, key):
        metadata = struct.pack("<IIII", 1, 0, 1, 0) + struct.pack("<II", 0x00090008, self.versions[key]) + bytes(40)
        return DirectoryEntry(self.dns[key], {UAC: [self.values[key].encode()],
                                              GUARD_ATTRIBUTE: [token.encode() for token in self.tokens[key]],
                                              "replPropertyMetaData": [metadata]})

    def search(self, base, ldap_filter, attributes, scope="subtree", controls=None, paged=True):
        self.searches.append(scope)
        if scope == "base":
            self.base_reads.append(base)
            return [self.entry(base.lower())]
        assert base == BASE
        return [self.entry(dn.lower()) for dn in dns_named(ldap_filter) if dn.lower() in self.values]

    def modify(self, dn, changes, controls=None):
        key = dn.lower()
        self.modifies.append((dn, changes))
        if self.before_modify:
            change = self.before_modify.pop(0)
            if change:
                change(self, key)
        tokens = guard_values_after(dn, self.tokens[key], changes)
        for operation, values in changes.get(UAC, []):
            assert operation == "MODIFY_REPLACE"
            self.values[key] = values[0]
            self.versions[key] += 1
        self.tokens[key] = tokens

    def read_entry(self, dn):
        return self.search(dn, "(objectClass=*)", [UAC], scope="base")[0]

    def write_all(self, count=None, results=None, same_twice=False):
        """Clear TRUSTED_FOR_DELEGATION on the first ``count`` objects (all by default)."""
        dns = [self.dns[key] for key in list(self.values)[:count]]
        if same_twice:
            dns = dns + dns
        replaces = [GuardedReplace(dn, clear_trusted, lambda dn=dn: self.read_entry(dn), "clearing on %s" % dn,
                                   still_holds=lambda values: not int(values[0]) & TRUSTED) for dn in dns]
        return guarded_replaces(self, UAC, replaces, lambda dns: read_by_dn(self, dns, [UAC]), text=True,
                                results=results)


def clear_trusted(values):
    current = int(values[0])
    return (str(current & ~TRUSTED),) if current & TRUSTED else None


def other_run(value):
    """Another guarded writer: sets ``value`` and swaps the tokens."""
    def change(fake, key):
        fake.values[key] = str(value)
        fake.tokens[key] = [GUARD_PREFIX + "other"]
        fake.versions[key] += 1
    return change


def foreign_writer(value):
    """A writer outside the collection: sets ``value``, leaves the tokens."""
    def change(fake, key):
        fake.values[key] = str(value)
        fake.versions[key] += 1
    return change


@pytest.mark.parametrize("count", [1, 5, 40])
def test_the_searches_do_not_grow_with_the_objects(count):
    """One read of all, one read again of those that got their first guard
    token, one read after the writes: three searches for any number."""
    directory = GuardedObjects(count)
    results = directory.write_all()
    assert directory.searches == ["subtree"] * 3 and directory.base_reads == []
    # A first token for each, then one write each: the value replaced, the token swapped.
    assert [list(changes) for _dn, changes in directory.modifies] == [[GUARD_ATTRIBUTE]] * count + [
        [UAC, GUARD_ATTRIBUTE]] * count
    assert all(value == str(0x200) for value in directory.values.values())
    assert all(len(tokens) == 1 for tokens in directory.tokens.values())
    assert [result.outcome.written for result in results] == [True] * count
    assert not any(result.lost for result in results)
    assert [result.values_after for result in results] == [(str(0x200),)] * count


def test_objects_with_a_guard_token_are_not_read_again_before_their_write():
    directory = GuardedObjects(4, guarded=range(4))
    directory.write_all()
    assert directory.searches == ["subtree"] * 2
    assert len(directory.modifies) == 4


def test_an_object_that_needs_no_write_gets_no_guard_token():
    directory = GuardedObjects(3)
    directory.values[user_dn(1).lower()] = str(0x200)
    results = directory.write_all()
    assert [dn for dn, _changes in directory.modifies].count(user_dn(1)) == 0
    assert directory.tokens[user_dn(1).lower()] == []
    assert [result.outcome.written for result in results] == [True, False, True]


def test_two_writers_that_each_gave_an_object_its_first_token_do_not_both_write():
    """The condition is the tokens read after the first token was added,
    not the add: another run adds its own token too (before this run reads
    again), then writes first, swapping both tokens; this run's write of
    that object is refused, it reads the object alone and plans again."""
    directory = GuardedObjects(2)

    def other_token(fake, key):
        fake.tokens[key] = fake.tokens[key] + [GUARD_PREFIX + "theirs"]

    def other_write(fake, key):
        # The other run clears the flag and disables the account, swapping both tokens.
        fake.values[key] = str(0x200 | 0x2)
        fake.tokens[key] = [GUARD_PREFIX + "other"]
        fake.versions[key] += 1

    # The first token of object 0 (and the other run's), the first token of object 1, then our write of object 0.
    directory.before_modify = [other_token, None, other_write]
    results = directory.write_all()
    assert directory.values[user_dn(0).lower()] == str(0x200 | 0x2)  # the other run's change is kept
    assert [result.outcome.written for result in results] == [False, True]
    assert directory.base_reads == [user_dn(0)]  # the conflict: that object alone
    assert directory.searches.count("subtree") == 3


def test_a_foreign_write_before_ours_is_reported_from_the_one_read_after_all_writes():
    directory = GuardedObjects(3, guarded=range(3))
    # Before our write of object 1, an administrator changes its flags (the guard cannot stop that).
    directory.before_modify = [None, foreign_writer(0x200 | TRUSTED | 0x2), None]
    results = directory.write_all()
    assert [result.lost for result in results] == [False, True, False]
    assert directory.searches == ["subtree"] * 2


def test_another_guarded_writer_after_ours_is_no_loss_while_our_change_holds():
    directory = GuardedObjects(2, guarded=range(2))

    def after_ours(fake, key):
        # Object 0, right after our write to it: another run of the collection writes it again.
        other_run(0x200 | 0x2)(fake, user_dn(0).lower())

    directory.before_modify = [None, after_ours]
    results = directory.write_all()
    assert [result.lost for result in results] == [False, False]


def test_the_same_object_twice_is_written_on_the_state_the_first_write_left():
    """Two replaces of one object: the second plans on the first's values,
    conditional on its token, with no conflict and no read of its own."""
    directory = GuardedObjects(2, guarded=range(2))
    results = directory.write_all(same_twice=True)
    assert [result.outcome.written for result in results] == [True, True, False, False]
    assert directory.base_reads == [] and len(directory.modifies) == 2
    assert not any(result.lost for result in results)


def refusal_of(index):
    """The DC's refusal of a modify of object ``index``, and a before_modify hook that raises it."""
    refused = LdapError("modifying %s failed: insufficientAccessRights" % user_dn(index),
                        result="insufficientAccessRights")

    def refuse(fake, key):
        raise refused

    return refused, refuse


def test_a_refusal_names_the_guard_tokens_written_and_keeps_the_writes_done():
    directory = GuardedObjects(3)
    refused, refuse = refusal_of(1)
    # Three first tokens, the write of object 0, then object 1's is refused.
    directory.before_modify = [None, None, None, None, refuse]
    results = []
    with pytest.raises(LdapError) as raised:
        directory.write_all(results=results)
    assert raised.value is refused
    assert str(refused).endswith(
        "; written before the refusal: a guard value in extensionName of each of 2 objects: %s; %s (they only make "
        "later writes conditional)" % (user_dn(1), user_dn(2)))
    assert [result.replace.dn for result in results] == [user_dn(0)]
    assert results[0].outcome.written and results[0].lost is False and results[0].values_after == (str(0x200),)


def test_a_refused_first_token_names_the_tokens_added_before_it():
    directory = GuardedObjects(3)
    dummy, refuse = refusal_of(1)
    directory.before_modify = [None, refuse]
    with pytest.raises(LdapError) as raised:
        directory.write_all()
    message = str(raised.value)
    assert "needs the right to write it" in message
    assert message.endswith("; written before the refusal: a guard value in extensionName of %s (it only makes "
                            "later writes conditional)" % user_dn(0))


def test_with_writes_adds_no_nothing_written_to_a_refusal_that_says_what_it_wrote():
    client = RefusingClient()
    with pytest.raises(LdapError) as raised:
        guarded_replace(client, DN, "userAccountControl", client.read, lambda values: ("4096",), "clearing", text=True)
    assert "nothing written" not in str(with_writes(raised.value, []))


def test_read_by_dn_reads_in_batches_of_max_filter_terms_keyed_by_normalised_dn():
    searched = []

    class Client:
        default_naming_context = BASE

        def search(self, base, ldap_filter, attributes, controls=None):
            searched.append(dns_named(ldap_filter))
            return [DirectoryEntry(dn.upper(), {}) for dn in dns_named(ldap_filter)]

    dns = [user_dn(n) for n in range(MAX_FILTER_TERMS * 2 + 1)] + ["CN=Smith\\, J (old),%s" % BASE]
    found = read_by_dn(Client(), dns, [UAC])
    assert [len(batch) for batch in searched] == [MAX_FILTER_TERMS, MAX_FILTER_TERMS, 2]
    assert set(found) == {normalize_dn(dn) for dn in dns}
