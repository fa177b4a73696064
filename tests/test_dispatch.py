"""Command names in any case reach the same command, as on Redis, however many spellings a
server has seen; commandstats count every call under the command's own name."""
import itertools

from differential import assert_same
from harness import RawConnection


def spellings(name, count):
    """`count` distinct upper/lower-case spellings of `name`."""
    variants = itertools.product(*[(c.lower(), c.upper()) for c in name])
    return ["".join(v) for v in itertools.islice(variants, count)]


def test_mixed_case_names_and_subcommands(reference, server):
    script = [["SET", "k", "v"], ["get", "k"], ["GeT", "k"], ["gEt", "k"], ["sEt", "k", "w"],
              ["GET"], ["gEt", "k", "extra"], ["cOnFiG", "gEt", "maxmemory-policy"],
              ["CONFIG", "nOsUcHsUb"], ["NoSuchCommand", "a", "b"], ["nosuchcommand"],
              ["ObJeCt", "EnCoDiNg", "k"], ["GET", "k"]]
    assert assert_same(reference, server, script) == len(script)


def test_more_spellings_than_remembered(reference, server):
    # 1,500 spellings of one name: more than the server remembers at once, each still runs.
    script = [["RPUSH", "list", "a", "b", "c"]]
    script += [[name, "list", "0", "-1"] for name in spellings("lrange", 64)] * 2
    script += [[name, "list"] for name in spellings("llen", 16)]
    assert assert_same(reference, server, script) == len(script)
    conn = RawConnection(server.port)
    try:
        conn.command("CONFIG", "RESETSTAT")
        sent = spellings("zrangebyscore", 1500)
        for name in sent:
            assert conn.command(name, "nokey", "0", "1") == b"*0\r\n"
        stats = conn.command("INFO", "commandstats").decode()
    finally:
        conn.close()
    assert "cmdstat_zrangebyscore:calls=1500," in stats
