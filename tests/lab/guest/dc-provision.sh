#!/bin/bash
# Provision a fresh Samba AD DC inside lab host dc1 (runs in the guest, as root).
# usage: dc-provision.sh REALM NETBIOS HOST_IP
# The Administrator password is set afterwards by ad_users.py (from stdin), so none is passed here.
set -euo pipefail
realm=${1:?realm}; netbios=${2:?netbios}; ip=${3:?host ip}
domain=${realm,,}

systemctl disable --now smbd nmbd winbind samba-ad-dc >/dev/null 2>&1 || true
rm -f /etc/samba/smb.conf
# tdb/ldb left by an earlier smbd/nmbd/winbind run break logons to the new DC (notes 2.4).
for d in $(smbd -b | awk '/LOCKDIR|STATEDIR|CACHEDIR|PRIVATE_DIR/{print $2}'); do
    if [[ -d $d ]]; then find "$d" \( -name '*.tdb' -o -name '*.ldb' \) -delete; fi
done
rm -rf /var/lib/samba/sysvol/* /var/lib/samba/private/tls

# provision prints a random Administrator password: keep it out of the log.
samba-tool domain provision --use-rfc2307 --realm="$realm" --domain="$netbios" --server-role=dc \
    --dns-backend=SAMBA_INTERNAL --host-name="$(hostname -s)" --host-ip="$ip" \
    --option="dns forwarder =" --option="interfaces = lo host0" --option="bind interfaces only = yes" \
    2>&1 | grep -v -i 'password' > /var/log/qlab-provision.log || true
[[ -f /var/lib/samba/private/sam.ldb ]] || { cat /var/log/qlab-provision.log; exit 1; }

install -m 644 /var/lib/samba/private/krb5.conf /etc/krb5.conf
printf 'search %s\nnameserver %s\n' "$domain" "$ip" > /etc/resolv.conf
systemctl unmask samba-ad-dc >/dev/null 2>&1
systemctl enable --now samba-ad-dc >/dev/null 2>&1

# Ready when KDC, LDAP, SMB and LDAPS accept connections and the TLS CA exists.
for _ in $(seq 1 150); do
    if (exec 3<>/dev/tcp/127.0.0.1/88 4<>/dev/tcp/127.0.0.1/389 5<>/dev/tcp/127.0.0.1/445 \
            6<>/dev/tcp/127.0.0.1/636) 2>/dev/null && [[ -s /var/lib/samba/private/tls/ca.pem ]]; then
        exit 0
    fi
    sleep 0.2
done
echo "samba-ad-dc did not open its ports in 30 s" >&2
systemctl status samba-ad-dc --no-pager >&2 || true
exit 1
