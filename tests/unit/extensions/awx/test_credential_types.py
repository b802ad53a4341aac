# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX credential types shipped in extensions/awx/credential_types/.

No AWX runs here. Each type is checked against awx_credential_type_schema.json
(AWX's JSON schemas, transcribed: see its description) and against the rules
AWX checks in Python when a credential type is saved; then its injectors are
rendered as AWX renders them when a job starts, and what they give is fed to
what the collection reads: the LDAP modules' and the WinRM options' argument
specs (their environment fallbacks), the keytab playbook's contract, and the
rule by which the inventory's WinRM settings win over the environment."""

from __future__ import annotations

import base64
import json
import os
import re
import types
from pathlib import Path

import pytest

jinja2_sandbox = pytest.importorskip("jinja2.sandbox")
jsonschema = pytest.importorskip("jsonschema")
yaml = pytest.importorskip("yaml")

from jinja2 import StrictUndefined, UndefinedError

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import LDAP_CONNECTION_ARGUMENT_SPEC
from ansible_collections.sqlauth.kerberos.plugins.module_utils._winrm import (
    WINRM_CONNECTION_ARGUMENT_SPEC,
    WINRM_ENVIRONMENT,
    WindowsHost,
    with_environment,
)
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import winrm_connection

HERE = Path(__file__).resolve().parent
COLLECTION = HERE.parents[3]
TYPES_DIR = COLLECTION / "extensions" / "awx" / "credential_types"
SCHEMA = json.loads((HERE / "awx_credential_type_schema.json").read_text())
TYPE_FILES = sorted(TYPES_DIR.glob("*.yml"))

# AWX never lets a credential set these (awx/main/fields.py, validate_env_var_allowed).
ENV_BLOCKLIST = {
    "VIRTUAL_ENV", "PATH", "PYTHONPATH", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID", "INVENTORY_UPDATE_ID",
    "AD_HOC_COMMAND_ID", "REST_API_URL", "REST_API_TOKEN", "MAX_EVENT_RES", "CALLBACK_QUEUE",
    "CALLBACK_CONNECTION", "CACHE", "JOB_CALLBACK_DEBUG", "INVENTORY_HOSTVARS", "AWX_HOST", "PROJECT_REVISION",
    "SUPERVISOR_CONFIG_PATH",
}
# An input whose id says it holds a secret must be one (masked, encrypted, hidden in the job's stored env).
SECRET_ID = re.compile(r"password|key|secret|token", re.I)
# What the Kerberos library and the keytab playbook read, beside the modules' own fallbacks.
KERBEROS_ENV = {"KRB5_CONFIG", "KRB5_CLIENT_KTNAME", "KRB5CCNAME", "SQLAUTH_KEYTAB_BASE64_FILE"}
PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----\n"
# The WinRM credential's field -> the sql_static_port option it sets.
WINRM_FIELDS = dict(username="winrm_username", password="winrm_password", transport="winrm_transport",
                    cert_pem="winrm_cert_pem", cert_key_pem="winrm_cert_key_pem", ca_cert="winrm_ca_cert")


def load(name):
    return yaml.safe_load((TYPES_DIR / name).read_text())


def fallbacks(spec):
    """Environment variable -> option, from an argument spec's env_fallback
    entries, and for the WinRM options the variables the module reads by
    group (WINRM_ENVIRONMENT)."""
    variables = {variable: option for option, settings in spec.items()
                 for variable in (settings.get("fallback") or (None, []))[1]}
    if spec is WINRM_CONNECTION_ARGUMENT_SPEC:
        variables.update({variable: option for option, variable in WINRM_ENVIRONMENT.items()})
    return variables


def file_labels(injectors):
    return [key.partition(".")[2] for key in injectors.get("file", {})]


def awx_problems(credential_type):
    """What AWX refuses when a credential type is saved: its schemas, then
    the rules it checks in Python (empty when AWX would accept it)."""
    validator = jsonschema.Draft4Validator(SCHEMA)
    problems = ["%s: %s" % ("/".join(map(str, error.absolute_path)), error.message)
                for error in validator.iter_errors(credential_type)]
    if problems:
        return problems
    fields = credential_type["inputs"].get("fields", [])
    ids = [field["id"] for field in fields]
    if "dependencies" in credential_type["inputs"]:
        problems.append("'dependencies' is not supported for custom credentials")
    for field in fields:
        kind = field.get("type", "string")
        if field["id"] == "tower":
            problems.append('"tower" is a reserved field name')
        if ids.count(field["id"]) > 1:
            problems.append("field IDs must be unique (%s)" % field["id"])
        if "default" in field and not isinstance(field["default"], {"string": str, "boolean": bool}[kind]):
            problems.append("%s: default %r is not a %s" % (field["id"], field["default"], kind))
        problems.extend("%s not allowed for %s type (%s)" % (key, kind, field["id"])
                        for key in ("choices", "multiline", "format", "secret") if key in field and kind != "string")
        if field.get("ask_at_runtime"):
            problems.append("'ask_at_runtime' is not supported for custom credentials")
    injectors = credential_type["injectors"]
    for variable in injectors.get("env", {}):
        if variable.startswith("ANSIBLE_") or variable in ENV_BLOCKLIST:
            problems.append("environment variable %s is not allowed in credentials" % variable)
    labels = file_labels(injectors)
    if "" in labels and len(labels) > 1:
        problems.append("must use multi-file syntax when injecting multiple files")
    # Templates are rendered with every declared field and the declared files:
    # anything else (a misspelt field, an undeclared file) is undefined.
    tower = types.SimpleNamespace(
        filename="EXAMPLE_FILENAME" if labels == [""] else types.SimpleNamespace(
            **{label: "EXAMPLE_FILENAME" for label in labels}))
    namespace = dict({field_id: "EXAMPLE" for field_id in ids}, tower=tower)
    environment = jinja2_sandbox.ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for kind, templates in injectors.items():
        for key, template in templates.items():
            try:
                environment.from_string(template).render(namespace)
            except UndefinedError as error:
                problems.append("%s %s uses an undefined field (%s)" % (kind, key, error))
    return problems


def awx_inject(credential_type, inputs, private_dir):
    """Render the injectors as AWX does when a job starts: inputs left empty
    are not in the namespace (an unset field renders as an empty string),
    each file template is written to a file of its own, whose name the other
    templates read as tower.filename.<label>. Returns env, extra vars and the
    files' contents by label."""
    namespace = {name: value for name, value in inputs.items() if value or isinstance(value, bool)}
    for field in credential_type["inputs"]["fields"]:
        if field.get("type") == "boolean":
            namespace.setdefault(field["id"], False)
    environment = jinja2_sandbox.ImmutableSandboxedEnvironment()
    injectors = credential_type["injectors"]
    files, contents = {}, {}
    for key, template in injectors.get("file", {}).items():
        label = key.partition(".")[2]
        files[label] = path = os.path.join(private_dir, "tmp_%s" % label)
        contents[label] = environment.from_string(template).render(**namespace)
        Path(path).write_text(contents[label])
    namespace["tower"] = types.SimpleNamespace(filename=types.SimpleNamespace(**files))
    env = {name: environment.from_string(template).render(**namespace)
           for name, template in injectors.get("env", {}).items()}
    extra_vars = {name: environment.from_string(template).render(**namespace)
                  for name, template in injectors.get("extra_vars", {}).items()}
    return env, extra_vars, contents


def module_options(spec, env, monkeypatch, **params):
    """The options a module with this argument spec gets in that environment."""
    for name in fallbacks(spec):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = ArgumentSpecValidator(spec).validate(params)
    assert result.error_messages == []
    if spec is WINRM_CONNECTION_ARGUMENT_SPEC:
        return with_environment(result.validated_parameters, os.environ)[0]
    return result.validated_parameters


# --- AWX would accept them ---------------------------------------------------

def test_both_types_are_shipped():
    assert [path.name for path in TYPE_FILES] == ["ad_bind.yml", "winrm.yml"]


@pytest.mark.parametrize("path", TYPE_FILES, ids=lambda path: path.name)
def test_awx_accepts_the_type(path):
    assert awx_problems(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("path", TYPE_FILES, ids=lambda path: path.name)
def test_every_secret_input_is_secret_and_every_required_one_declared(path):
    credential_type = yaml.safe_load(path.read_text())
    fields = credential_type["inputs"]["fields"]
    assert [field["id"] for field in fields if SECRET_ID.search(field["id"]) and not field.get("secret")] == []
    assert set(credential_type["inputs"]["required"]) <= {field["id"] for field in fields}
    # A required choice has a default, so the form offers a valid one.
    assert all("default" in field for field in fields
               if field.get("choices") and field["id"] in credential_type["inputs"]["required"])


@pytest.mark.parametrize("change, problem", [
    (lambda t: t["inputs"]["fields"].append(dict(id="port", label="Port", type="integer")), "'integer' is not one of"),
    (lambda t: t["inputs"]["fields"].append(dict(id="tower", label="Tower")), "reserved field name"),
    (lambda t: t["inputs"]["fields"].append(dict(id="server", label="Again")), "must be unique"),
    (lambda t: t["inputs"]["fields"].append(dict(id="flag", label="Flag", type="boolean", secret=True)),
     "secret not allowed for boolean"),
    (lambda t: t["inputs"]["fields"].append(dict(id="mode", label="Mode", choices=["a"], default=1)),
     "default 1 is not a string"),
    (lambda t: t["injectors"]["env"].update(ANSIBLE_CONFIG="{{ server }}"), "ANSIBLE_CONFIG is not allowed"),
    (lambda t: t["injectors"]["env"].update(PATH="{{ server }}"), "PATH is not allowed"),
    (lambda t: t["injectors"]["env"].update(SQLAUTH_LDAP_PORT="{{ port }}"), "uses an undefined field"),
    (lambda t: t["injectors"]["env"].update(SQLAUTH_LDAP_CA_CERT="{{ tower.filename.ca }}"),
     "uses an undefined field"),
    (lambda t: t["injectors"]["file"].update(template="{{ server }}"), "multi-file syntax"),
    (lambda t: t.update(kind="ssh"), "'ssh' is not one of"),
    (lambda t: t["injectors"].update(args="--foo"), "Additional properties are not allowed"),
])
def test_the_checks_catch_what_awx_refuses(change, problem):
    credential_type = load("ad_bind.yml")
    change(credential_type)
    assert any(problem in text for text in awx_problems(credential_type)), awx_problems(credential_type)


# --- what a job gets: the AD bind ----------------------------------------------

def test_ad_bind_sets_only_what_the_modules_and_kerberos_read():
    env = load("ad_bind.yml")["injectors"]["env"]
    ldap_variables = set(fallbacks(LDAP_CONNECTION_ARGUMENT_SPEC))
    assert set(env) - KERBEROS_ENV <= ldap_variables
    assert {"SQLAUTH_LDAP_SERVER", "SQLAUTH_LDAP_CA_CERT", "SQLAUTH_LDAP_USERNAME", "SQLAUTH_LDAP_PASSWORD",
            "SQLAUTH_LDAP_AUTH_PROTOCOL"} <= set(env)


def test_ad_bind_with_a_password_gives_the_modules_every_option(tmp_path, monkeypatch):
    credential_type = load("ad_bind.yml")
    env, extra_vars, contents = awx_inject(credential_type, dict(
        server="dc1.corp.example.com", ca_cert=PEM, auth_protocol="kerberos",
        username="svc-ansible@CORP.EXAMPLE.COM", password="s3cret!"), str(tmp_path))
    options = module_options(LDAP_CONNECTION_ARGUMENT_SPEC, env, monkeypatch)
    assert extra_vars == {}
    assert options["server"] == "dc1.corp.example.com"
    assert options["auth_protocol"] == "kerberos"
    assert options["username"] == "svc-ansible@CORP.EXAMPLE.COM"
    assert options["password"] == "s3cret!"
    assert Path(options["ca_cert"]).read_text() == PEM
    assert options["tls_mode"] == "ldaps" and options["cert_validation"] == "always"
    assert env["SQLAUTH_KEYTAB_BASE64_FILE"] == ""  # the keytab playbook has nothing to do


def test_ad_bind_with_only_the_required_inputs_leaves_the_rest_unset(tmp_path, monkeypatch):
    """AWX sets every env injector; an empty one must read as unset: no CA
    file (the system store, not an empty file trusting nothing), no password
    (Kerberos from the keytab or a ticket)."""
    env, _extra_vars, _contents = awx_inject(
        load("ad_bind.yml"), dict(server="dc1.corp.example.com", auth_protocol="kerberos"), str(tmp_path))
    options = module_options(LDAP_CONNECTION_ARGUMENT_SPEC, env, monkeypatch)
    assert options["server"] == "dc1.corp.example.com"
    assert not options["ca_cert"] and not options["password"] and not options["username"]


def test_ad_bind_keytab_is_written_as_base64_where_the_keytab_playbook_reads_it(tmp_path):
    keytab = bytes(range(256))  # binary: AWX could not write it as a file template
    env, _extra_vars, contents = awx_inject(load("ad_bind.yml"), dict(
        server="dc1.corp.example.com", auth_protocol="kerberos",
        keytab_base64=base64.b64encode(keytab).decode()), str(tmp_path))
    assert base64.b64decode(Path(env["SQLAUTH_KEYTAB_BASE64_FILE"]).read_text()) == keytab
    # playbooks/awx_keytab.yml writes the binary keytab where Kerberos reads it.
    assert env["KRB5_CLIENT_KTNAME"] == "FILE:%s.keytab" % env["SQLAUTH_KEYTAB_BASE64_FILE"]
    assert env["KRB5CCNAME"].startswith("FILE:" + str(tmp_path))
    assert env["SQLAUTH_LDAP_PASSWORD"] == "" and env["SQLAUTH_LDAP_AUTH_PROTOCOL"] == "kerberos"
    playbook = (COLLECTION / "playbooks" / "awx_keytab.yml").read_text()
    assert "SQLAUTH_KEYTAB_BASE64_FILE" in playbook and "KRB5_CLIENT_KTNAME" in playbook


@pytest.mark.parametrize("krb5_conf", ["", "[libdefaults]\n  default_realm = CORP.EXAMPLE.COM\n"])
def test_ad_bind_krb5_conf_comes_before_the_execution_environments(tmp_path, krb5_conf):
    env, _extra_vars, contents = awx_inject(load("ad_bind.yml"), dict(
        server="dc1.corp.example.com", auth_protocol="kerberos", krb5_conf=krb5_conf), str(tmp_path))
    first, second = env["KRB5_CONFIG"].split(":")
    assert Path(first).read_text() == krb5_conf  # empty: adds nothing to /etc/krb5.conf
    assert second == "/etc/krb5.conf"


# --- what a job gets: WinRM ---------------------------------------------------------

@pytest.mark.parametrize("path", TYPE_FILES, ids=lambda path: path.name)
def test_no_type_injects_extra_vars(path):
    """Extra vars win over the inventory and reach every host of the job
    (ansible_user would be a Linux host's SSH login too)."""
    assert set(yaml.safe_load(path.read_text())["injectors"]) <= {"env", "file"}


def test_winrm_sets_exactly_the_env_fallbacks_of_its_options():
    credential_type = load("winrm.yml")
    env = credential_type["injectors"]["env"]
    spec_fallbacks = fallbacks(WINRM_CONNECTION_ARGUMENT_SPEC)
    assert {variable: spec_fallbacks.get(variable) for variable in env} == {
        "SQLAUTH_WINRM_%s" % option[len("winrm_"):].upper(): option for option in WINRM_FIELDS.values()}
    # Each field names the variable it sets, and is one of those WINRM_FIELDS lists.
    for field in credential_type["inputs"]["fields"]:
        variable = "SQLAUTH_WINRM_%s" % WINRM_FIELDS[field["id"]][len("winrm_"):].upper()
        assert "Sets %s" % variable in field["help_text"], field["id"]
    # Each transport the credential offers is one the module takes, and all of them are offered.
    transport = next(field for field in credential_type["inputs"]["fields"] if field["id"] == "transport")
    assert transport["choices"] == WINRM_CONNECTION_ARGUMENT_SPEC["winrm_transport"]["choices"]


@pytest.mark.parametrize("transport", ["ntlm", "credssp", "basic"])
def test_winrm_with_a_password_gives_the_module_its_options(tmp_path, monkeypatch, transport):
    env, extra_vars, contents = awx_inject(load("winrm.yml"), dict(
        username="CORP\\sqladmin", password="s3cret!", transport=transport), str(tmp_path))
    assert extra_vars == {} and set(contents.values()) == {""}
    options = module_options(WINRM_CONNECTION_ARGUMENT_SPEC, env, monkeypatch, winrm_host="sql1.corp.example.com")
    assert (options["winrm_username"], options["winrm_password"], options["winrm_transport"]) == (
        "CORP\\sqladmin", "s3cret!", transport)
    assert not options["winrm_ca_cert"] and not options["winrm_cert_pem"] and not options["winrm_cert_key_pem"]
    # What the credential does not hold keeps the module's default.
    assert WindowsHost(dict(options, winrm_transport="ntlm"), protocol_factory=object).url == (
        "http://sql1.corp.example.com:5985/wsman")
    assert not options["winrm_scheme"] and not options["winrm_cert_validation"]


def test_winrm_kerberos_with_only_the_transport_leaves_the_rest_unset(tmp_path, monkeypatch):
    """AWX sets every env injector; the empty ones must read as unset, down
    to what pywinrm is given: no principal (the job's Kerberos credentials
    choose), no CA file (the trusted store, validation on)."""
    env, _extra_vars, _contents = awx_inject(load("winrm.yml"), dict(transport="kerberos"), str(tmp_path))
    options = module_options(WINRM_CONNECTION_ARGUMENT_SPEC, env, monkeypatch,
                             winrm_host="sql1.corp.example.com", winrm_scheme="https")
    assert options["winrm_transport"] == "kerberos"
    seen = []
    WindowsHost(options, protocol_factory=lambda **settings: seen.append(settings))._protocol()
    assert [seen[0][name] for name in ("username", "password", "ca_trust_path", "cert_pem", "cert_key_pem")] == [None] * 5
    assert seen[0]["transport"] == "kerberos" and seen[0]["server_cert_validation"] == "validate"


def test_winrm_certificate_and_ca_are_written_to_files(tmp_path, monkeypatch):
    env, _extra_vars, _contents = awx_inject(load("winrm.yml"), dict(
        transport="certificate", cert_pem=PEM, cert_key_pem=KEY_PEM, ca_cert=PEM), str(tmp_path))
    options = module_options(WINRM_CONNECTION_ARGUMENT_SPEC, env, monkeypatch,
                             winrm_host="sql1.corp.example.com", winrm_scheme="https")
    assert options["winrm_transport"] == "certificate" and not options["winrm_username"]
    assert Path(options["winrm_cert_pem"]).read_text() == PEM
    assert Path(options["winrm_cert_key_pem"]).read_text() == KEY_PEM
    assert Path(options["winrm_ca_cert"]).read_text() == PEM
    assert WindowsHost(options, protocol_factory=object).settings["transport"] == "certificate"


WINRM_CREDENTIAL = dict(username="CORP\\awx-winrm", password="from-awx", transport="ntlm")


@pytest.mark.parametrize("host_variables, sqlauth_winrm, expected", [
    # A WinRM host's own connection variables win over the credential.
    (dict(ansible_connection="winrm", ansible_user="CORP\\inventory", ansible_password="from-inventory",
          ansible_winrm_transport="kerberos"), {},
     ("CORP\\inventory", "from-inventory", "kerberos")),
    # sqlauth_winrm wins over both.
    (dict(ansible_connection="psrp", ansible_user="CORP\\inventory", ansible_password="from-inventory"),
     dict(winrm_username="CORP\\override", winrm_password="from-override"),
     ("CORP\\override", "from-override", None)),
    # The credentials come whole from one source: a host that sets the transport takes no account from the
    # credential, nor a user to go with its own password.
    (dict(ansible_connection="winrm", ansible_winrm_transport="credssp"), {}, (None, None, "credssp")),
    (dict(ansible_connection="winrm", ansible_password="from-inventory"), {}, (None, "from-inventory", None)),
    (dict(ansible_connection="winrm"), dict(winrm_username="CORP\\override"), ("CORP\\override", None, None)),
    # A host that sets no credential gets the credential's, whatever its endpoint.
    (dict(ansible_connection="winrm", ansible_host="10.0.0.12", ansible_port=5985), {},
     ("CORP\\awx-winrm", "from-awx", "ntlm")),
    # An SSH host's login is not a WinRM account: the credential's applies.
    (dict(ansible_connection="ssh", ansible_user="root", ansible_password="ssh-password"), {},
     ("CORP\\awx-winrm", "from-awx", "ntlm")),
])
def test_winrm_credential_ranks_below_the_inventory(tmp_path, monkeypatch, host_variables, sqlauth_winrm, expected):
    """What the role sql_static_port passes (winrm_connection of the host's
    variables) over the credential's environment."""
    env, _extra_vars, _contents = awx_inject(load("winrm.yml"), WINRM_CREDENTIAL, str(tmp_path))
    params = winrm_connection(host_variables, sqlauth_winrm, "sql1.corp.example.com")
    options = module_options(WINRM_CONNECTION_ARGUMENT_SPEC, env, monkeypatch, **params)
    assert (options["winrm_username"], options["winrm_password"], options["winrm_transport"]) == expected


def test_winrm_credential_ca_serves_every_host_whose_inventory_names_none(tmp_path, monkeypatch):
    """The CA stands alone: trusting it weakens no check, so it serves a
    WinRM host whose endpoint the inventory gives (https on 5986 by
    default) and an SSH-managed host alike; a host's own CA wins."""
    env, _extra_vars, _contents = awx_inject(load("winrm.yml"), dict(WINRM_CREDENTIAL, ca_cert=PEM), str(tmp_path))
    for variables in (dict(ansible_connection="winrm"), dict(ansible_connection="ssh"),
                      dict(sqlauth_winrm=dict(winrm_scheme="https"))):
        params = winrm_connection(variables, variables.get("sqlauth_winrm"), "sql1.corp.example.com")
        options = module_options(WINRM_CONNECTION_ARGUMENT_SPEC, env, monkeypatch, **params)
        assert Path(options["winrm_ca_cert"]).read_text() == PEM, variables
    params = winrm_connection(dict(ansible_connection="winrm", ansible_winrm_ca_trust_path="/etc/pki/own.pem"), {},
                              "sql1.corp.example.com")
    options = module_options(WINRM_CONNECTION_ARGUMENT_SPEC, env, monkeypatch, **params)
    assert options["winrm_ca_cert"] == "/etc/pki/own.pem"
