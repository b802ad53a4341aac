"""connection.env, the KEY=VALUE file lab.sh writes into the lab folder
(server, CA file, credentials, realm, KRB5_CONFIG), read by the seed, the KDC
helpers, the tests and the benchmark."""


def read_env(path):
    values = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                values[key] = value
    return values
