#!/usr/bin/env python3
"""Lock a lab AD account by bad LDAPS simple binds (test equipment for the identity_ad scenario).

usage: lock_user.py SERVER PRINCIPAL CA_FILE
The wrong passwords are random, never the account's. Prints "already locked" or "locked now";
exits 1 when the account is still not locked after the binds (no lockout policy applies to it).
"""
import secrets
import ssl
import sys

import ldap3

LOCKED_SUBCODE = "data 775"


def bind_diagnostic(server, principal, password):
    """The DC's diagnostic message for a simple bind (empty when the bind succeeded)."""
    conn = ldap3.Connection(server, user=principal, password=password, authentication=ldap3.SIMPLE,
                            raise_exceptions=False, receive_timeout=10)
    conn.open()
    conn.bind()
    message = (conn.result or {}).get("message") or ""
    conn.unbind()
    return message


def main(argv):
    name, principal, ca_file = argv[1:4]
    server = ldap3.Server(name, port=636, use_ssl=True, get_info=ldap3.NONE, connect_timeout=10,
                          tls=ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file))
    wrong = "wrong-" + secrets.token_hex(8)
    if LOCKED_SUBCODE in bind_diagnostic(server, principal, wrong):
        print("%s already locked" % principal)
        return 0
    for _ in range(5):
        if LOCKED_SUBCODE in bind_diagnostic(server, principal, wrong):
            print("%s locked now" % principal)
            return 0
    print("%s is not locked after 6 bad binds" % principal)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
