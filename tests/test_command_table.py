"""The command table against Redis 7.0.15's: every command we serve must be declared with the
arity, flags, key positions and ACL categories COMMAND INFO reports on the reference."""
import hiredis
import pytest

from harness import RawConnection

# Commands deliberately served beyond 7.0.15 (clients send them on connect).
NEWER_THAN_REFERENCE = {"client|setinfo"}


def query(port, *args):
    conn = RawConnection(port)
    try:
        raw = conn.command(*args)
    finally:
        conn.close()
    reader = hiredis.Reader()
    reader.feed(raw)
    return reader.gets()


def decode(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def declaration(entry):
    """The parts of a COMMAND INFO entry that a declaration decides."""
    name, arity, flags, first, last, step, categories = decode(entry[:7])
    return {"name": name, "arity": arity, "flags": sorted(flags), "keys": (first, last, step),
            "acl": sorted(categories)}


def all_entries(port):
    """name -> COMMAND INFO entry, subcommands included."""
    out = {}
    for entry in query(port, "COMMAND"):
        out[decode(entry[0])] = entry
        for sub in entry[9]:
            out[decode(sub[0])] = sub
    return out


@pytest.fixture(scope="module")
def tables(server, reference):
    return all_entries(server.port), all_entries(reference.port)


def test_every_command_we_serve_exists_in_redis(tables):
    ours, theirs = tables
    unknown = sorted(set(ours) - set(theirs) - NEWER_THAN_REFERENCE)
    assert unknown == []


def test_every_declaration_matches_redis(tables):
    ours, theirs = tables
    wrong = []
    for name in sorted(ours):
        if name in NEWER_THAN_REFERENCE:
            continue
        mine, real = declaration(ours[name]), declaration(theirs[name])
        if mine != real:
            wrong.append((name, {k: (mine[k], real[k]) for k in mine if mine[k] != real[k]}))
    assert wrong == []


def test_containers_list_the_same_subcommands(tables):
    ours, theirs = tables
    for name, entry in ours.items():
        if "|" in name or not entry[9]:
            continue
        our_subs = {decode(s[0]) for s in entry[9]} - NEWER_THAN_REFERENCE
        their_subs = {decode(s[0]) for s in theirs[name][9]}
        # every subcommand we have is Redis's; the ones still missing are listed by name
        assert our_subs <= their_subs, name


def test_command_info_for_single_commands_is_the_same_shape(server, reference, tables):
    ours, _ = tables
    for name in sorted(ours)[:400]:
        mine = query(server.port, "COMMAND", "INFO", name)
        real = query(reference.port, "COMMAND", "INFO", name)
        assert len(mine) == 1 and len(mine[0]) == 10, name
        if name not in NEWER_THAN_REFERENCE:
            assert declaration(mine[0]) == declaration(real[0]), name


def test_command_info_unknown_and_mixed_case(server, reference):
    for args in (["COMMAND", "INFO", "nosuchcommand"], ["COMMAND", "INFO", "GET", "nosuch", "Set"],
                 ["COMMAND", "INFO", "config|get"], ["COMMAND", "INFO", "CONFIG|GET"],
                 ["COMMAND", "INFO", "config|nosuch"], ["COMMAND", "INFO", "get|x"]):
        mine = decode(query(server.port, *args))
        real = decode(query(reference.port, *args))
        assert [declaration(m) if m else None for m in mine] == [
            declaration(r) if r else None for r in real], args


def test_declaration_check_would_catch_a_wrong_arity(tables):
    ours, theirs = tables
    entry = list(ours["get"])
    entry[1] = entry[1] + 1
    assert declaration(entry) != declaration(theirs["get"])
