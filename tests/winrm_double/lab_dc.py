"""The lab's Samba AD DC as the AD-mode tests see it (environment, see test_ad_mode.py)."""

import os

DC = os.environ.get("QUBE_TEST_DC", "")
DOMAIN = os.environ.get("QUBE_TEST_DC_DOMAIN", "MYCORP")
PW = os.environ.get("QUBE_TEST_DC_PASSWORD", "")
SSH_KEY = os.environ.get("QUBE_TEST_DC_SSH_KEY") or os.path.join(
    os.environ.get("QLAB_DIR") or "/var/lib/qube-lab", "ssh", "id_ed25519")
ADMIN = "%s\\winrmadmin" % DOMAIN   # member of Domain Admins (tests/lab/guest/ad_users.py)
