#!/bin/bash
# Join this lab host to the lab's Samba AD with winbind + idmap rid (runs in the guest, as root).
# usage: ad-join.sh REALM NETBIOS DC_IP     (Administrator password on stdin)
# Domain uids are predictable: 100000 + RID (someuser gets the same uid on every worker).
set -euo pipefail
realm=${1:?realm}; netbios=${2:?netbios}; dc_ip=${3:?dc ip}
domain=${realm,,}

printf 'search %s\nnameserver %s\n' "$domain" "$dc_ip" > /etc/resolv.conf
cat > /etc/krb5.conf <<KRB
[libdefaults]
    default_realm = $realm
    dns_lookup_realm = false
    dns_lookup_kdc = true
    rdns = false
KRB
cat > /etc/samba/smb.conf <<SMB
[global]
    workgroup = $netbios
    realm = $realm
    security = ads
    kerberos method = secrets and keytab
    idmap config * : backend = tdb
    idmap config * : range = 3000-7999
    idmap config $netbios : backend = rid
    idmap config $netbios : range = 100000-999999
    template shell = /bin/bash
    template homedir = /home/%U
    winbind use default domain = no
    winbind refresh tickets = yes
    dns forwarder =
SMB
sed -i -E 's/^(passwd|group):.*/\1:         files winbind/' /etc/nsswitch.conf

systemctl stop winbind >/dev/null 2>&1 || true
net ads leave -P >/dev/null 2>&1 || true
net ads join -U Administrator --no-dns-updates > /var/log/qlab-join.log 2>&1 || {
    cat /var/log/qlab-join.log >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive pam-auth-update --enable mkhomedir
systemctl enable --now winbind >/dev/null 2>&1
for _ in $(seq 1 50); do
    if wbinfo -t >/dev/null 2>&1 && getent passwd "$netbios\\someuser" >/dev/null; then
        echo "joined $(hostname) to $realm"; exit 0
    fi
    sleep 0.2
done
echo "winbind did not come up after the join" >&2
exit 1
