# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Line model, value rendering and map round trips of the qb.conf format."""

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import (
    QbConf, QbConfError, Raw, decode_value, parse_drive_map, parse_path_map, redact,
    render_assignment, render_value, values_equal,
)

HASH = "0fbc8b129210914f769564cbd30ae5cb4397f9615299ce8d1e1cf065e97bf063"

# An installer-style qb.conf: commented defaults, inline comments, quotes, maps, odd spacing.
FIXTURE = """#
# qb.conf - Qube! configuration (example written for these tests)
#
#qb_domain = qube
qb_supervisor = 10.1.0.4

#  ----- worker -----
#worker_cpus = 0
worker_cpus = 4   # four job slots
worker_flags = "remove_logs,load_profile"
worker_groups=azure,gpu
\tworker_description = "Render node # 7"
worker_drive_map = {X:|\\\\fileserver\\projects
Y:|render:%s@\\\\nas\\scratch
}
worker_path_map = {
 "/Volumes/farm" : "//Server/farm",
 "/" = "\\\\",
}
proxy_password = %s # from qbhash
#proxy_password = 1111
""" % (HASH, HASH)


def test_untouched_text_round_trips_byte_for_byte():
    for text in (FIXTURE, FIXTURE.replace("\n", "\r\n"), FIXTURE.rstrip("\n"), "", "\n\n", "x = 1"):
        assert QbConf(text).text() == text


def test_get_reads_values_and_ignores_comments():
    conf = QbConf(FIXTURE)
    assert conf.get("worker_cpus") == "4"
    assert conf.get("qb_domain") is None
    assert conf.get_value("worker_flags") == "remove_logs,load_profile"
    assert conf.get_value("worker_description") == "Render node # 7"
    assert conf.get("worker_groups") == "azure,gpu"
    assert conf.get_value("worker_drive_map") == [
        {"drive": "X:", "path": "\\\\fileserver\\projects"},
        {"drive": "Y:", "path": "\\\\nas\\scratch", "user": "render", "password_hash": HASH}]
    assert conf.get_value("worker_path_map") == [("/Volumes/farm", "//Server/farm"), ("/", "\\")]
    assert conf.keys()[:3] == ["qb_supervisor", "worker_cpus", "worker_flags"]


def test_set_replaces_in_place_and_keeps_inline_comment():
    conf = QbConf(FIXTURE)
    assert conf.set("worker_cpus", 8) is True
    expected = FIXTURE.replace("worker_cpus = 4   # four job slots", "worker_cpus = 8   # four job slots")
    assert conf.text() == expected
    assert conf.set("worker_cpus", 8) is False


def test_set_new_key_appends_at_end_and_keeps_everything_else():
    conf = QbConf(FIXTURE.rstrip("\n"))
    conf.set("worker_cluster", "/projects/show")
    assert conf.text() == FIXTURE + "worker_cluster = /projects/show\n"


def test_set_uses_the_files_line_endings():
    conf = QbConf("a = 1\r\n")
    conf.set("worker_path_map", {"/a": "B:"})
    assert conf.text() == 'a = 1\r\nworker_path_map = {\r\n"/a" = "B:"\r\n}\r\n'


def test_set_replaces_a_whole_map_block():
    conf = QbConf(FIXTURE)
    conf.set("worker_drive_map", [{"drive": "Z:", "path": "\\\\srv\\home"}])
    text = conf.text()
    assert "worker_drive_map = {Z:|\\\\srv\\home\n}\nworker_path_map" in text
    assert "Y:|" not in text
    assert text.startswith(FIXTURE.split("worker_drive_map")[0])


def test_remove_drops_active_lines_only():
    conf = QbConf(FIXTURE)
    assert conf.remove("proxy_password") is True
    assert conf.remove("proxy_password") is False
    assert conf.text() == FIXTURE.replace("proxy_password = %s # from qbhash\n" % HASH, "")
    assert "#proxy_password = 1111" in conf.text()
    conf.remove("worker_path_map")
    assert '"/Volumes/farm"' not in conf.text()


def test_raw_values_are_written_verbatim():
    conf = QbConf("")
    conf.set("worker_lookup", Raw("local,supervisor"))
    assert conf.text() == "worker_lookup = local,supervisor\n"


@pytest.mark.parametrize("key,value,text", [
    ("worker_cpus", 0, "0"),
    ("worker_cluster", "/a/b", "/a/b"),
    ("worker_description", "two words", '"two words"'),
    ("worker_description", "", '""'),
    ("client_account", "Proj:Heart,Seq=Beat", '"Proj:Heart,Seq=Beat"'),
    ("worker_logpath", "\\\\server\\share\\logs", "\\\\server\\share\\logs"),
    ("worker_groups", ["gpu"], "gpu"),
    ("worker_flags", ["remove_logs", "auto_mount"], '"remove_logs,auto_mount"'),
    ("worker_properties", {"host.a": "1", "host.b": 2}, '"host.a=1,host.b=2"'),
    ("worker_restrictions", "/a || /a/+", '"/a || /a/+"'),
])
def test_render_value(key, value, text):
    assert render_value(key, value) == text


@pytest.mark.parametrize("key,value", [
    ("worker_description", 'say "hi"'), ("worker_description", "a\nb"), ("x", True),
    ("worker_groups", ["a,b"]), ("x", object()),
])
def test_render_value_refuses_what_the_format_cannot_hold(key, value):
    with pytest.raises(QbConfError):
        render_value(key, value)


def test_drive_map_strict_layout_and_round_trip():
    value = [{"drive": "x:", "path": "\\\\SERVER\\SHARE"},
             {"drive": "Y:", "path": "\\\\rnd_2\\home2", "user": "qubeuser", "password_hash": HASH}]
    text = render_assignment("worker_drive_map", value)
    assert text == ("worker_drive_map = {X:|\\\\SERVER\\SHARE\n"
                    "Y:|qubeuser:%s@\\\\rnd_2\\home2\n}" % HASH)
    lines = text.splitlines()
    assert lines[-1] == "}" and all(not line.startswith(" ") for line in lines) and "" not in lines
    decoded = parse_drive_map(render_value("worker_drive_map", value))
    assert decoded[0] == {"drive": "X:", "path": "\\\\SERVER\\SHARE"} and decoded[1] == value[1]
    assert render_value("worker_drive_map", {"Z:": "\\\\home\\geebers"}) == "{Z:|\\\\home\\geebers\n}"


@pytest.mark.parametrize("value", [
    [{"drive": "XY:", "path": "\\\\s\\x"}], [{"drive": "X:", "path": "C:\\data"}],
    [{"drive": "X:", "path": "\\\\s\\x", "user": "u"}], [{"path": "\\\\s\\x"}], "X:|\\\\s\\x",
])
def test_malformed_drive_maps_are_refused(value):
    with pytest.raises(QbConfError):
        render_value("worker_drive_map", value)


def test_path_map_escapes_backslashes_keeps_order_and_round_trips():
    pairs = [("/Volumes/farm", "//Server/farm"), ("/Users/jburk", "Z:"), ("/", "\\")]
    text = render_value("worker_path_map", pairs)
    assert text == '{\n"/Volumes/farm" = "//Server/farm"\n"/Users/jburk" = "Z:"\n"/" = "\\\\"\n}'
    assert parse_path_map(text) == pairs
    assert render_value("worker_path_map", dict(pairs)) == text
    assert render_value("worker_path_map", [{"from": a, "to": b} for a, b in pairs]) == text
    conf = QbConf("")
    conf.set("worker_path_map", pairs)
    assert QbConf(conf.text()).get_value("worker_path_map") == pairs


def test_unclosed_map_is_an_error():
    with pytest.raises(QbConfError, match="line 2"):
        QbConf("a = 1\nworker_path_map = {\n\"a\" = \"b\"\n")


def test_values_equal_ignores_quotes_and_map_layout():
    assert values_equal("worker_flags", '"remove_logs"', "remove_logs")
    assert not values_equal("worker_cpus", "4", "8")
    assert values_equal("worker_path_map", '{\n "a" : "b",\n}', '{\n"a" = "b"\n}')
    assert not values_equal("worker_cpus", None, "1")
    assert decode_value("worker_cpus", ' "3" ') == "3"


def test_redact_hides_secrets_and_drive_credentials_only():
    redacted = redact(FIXTURE, ["proxy_password"])
    assert HASH not in redacted and "1111" not in redacted
    assert "proxy_password = REDACTED # from qbhash\n" in redacted
    assert "#proxy_password = REDACTED\n" in redacted
    assert "Y:|render:REDACTED@\\\\nas\\scratch" in redacted
    assert redacted.replace("REDACTED", "") == FIXTURE.replace(HASH, "").replace("1111", "")
