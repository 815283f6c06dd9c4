"""psycopg 3 through shardwire: keyed writes checked on their shard,
server-side prepared statements past prepare_threshold shared by several
clients, binary results (also through scatter-gather), transactions, a
refused unkeyed write, the replica read, cancel, COPY and pipeline mode.

Environment: SHARDWIRE_URL, SHARD_URLS (space-separated, shard order),
SHARDS, REPLICA_PORT. Exits non-zero with a message on the first failed
check. Run with Debian's /usr/bin/python3.
"""
import datetime
import decimal
import os
import threading
import time

import psycopg

DRIVER = "psycopg"
URL = os.environ["SHARDWIRE_URL"]
SHARD_URLS = os.environ["SHARD_URLS"].split()
SHARDS = int(os.environ["SHARDS"])
REPLICA_PORT = int(os.environ.get("REPLICA_PORT", "0"))
IDS = list(range(2 * SHARDS))
T0 = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
COLS = "n, amount, name, at, flag, blob, tags, note"


def expected(u, n_offset=100):
    return (
        u + n_offset,
        decimal.Decimal(u) + decimal.Decimal("0.25"),
        f"user {u}",
        T0 + datetime.timedelta(seconds=u),
        u % 2 == 0,
        bytes([0, 255, u]),
        [u, -u],
        None if u % 2 == 0 else f"note {u}",
    )


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED [{DRIVER}]: {what}")
    print(f"ok: {what}")


def expect_sqlstate(fn, state, what):
    try:
        fn()
    except psycopg.Error as e:
        check(e.sqlstate == state, f"{what}: SQLSTATE {e.sqlstate} ({e}), wanted {state}")
        return
    check(False, f"{what}: no error, wanted SQLSTATE {state}")


def utc(row):
    """timestamptz values compared in UTC."""
    return tuple(v.astimezone(datetime.timezone.utc) if isinstance(v, datetime.datetime) else v for v in row)


def main():
    print(f"driver: psycopg {psycopg.__version__} (libpq {psycopg.pq.version()})")
    conn = psycopg.connect(URL, autocommit=True, prepare_threshold=2)
    cur = conn.cursor(binary=True)
    for u in IDS:
        cur.execute("DELETE FROM driver_rows WHERE driver = %s AND user_id = %s", (DRIVER, u))
        cur.execute(
            f"INSERT INTO driver_rows (driver, user_id, {COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (DRIVER, u) + expected(u, 0),
        )
        cur.execute("UPDATE driver_rows SET n = n + 100 WHERE driver = %s AND user_id = %s", (DRIVER, u))
    for u in IDS:
        cur.execute(f"SELECT {COLS} FROM driver_rows WHERE driver = %s AND user_id = %s", (DRIVER, u))
        row = cur.fetchone()
        check(row is not None and utc(row) == expected(u), f"keyed read-back of user {u} (binary): {row}")

    for k, url in enumerate(SHARD_URLS):
        with psycopg.connect(url) as direct:
            ids = [r[0] for r in direct.execute(
                "SELECT user_id FROM driver_rows WHERE driver = %s ORDER BY user_id", (DRIVER,))]
        check(ids == [u for u in IDS if u % SHARDS == k], f"shard {k} holds exactly its users: {ids}")

    errors = []

    def client(c):
        try:
            with psycopg.connect(URL, autocommit=True, prepare_threshold=1) as cc:
                for i in range(20):
                    u = IDS[(c + i) % len(IDS)]
                    v = cc.execute("SELECT n FROM driver_rows WHERE driver = %s AND user_id = %s",
                                   (DRIVER, u), binary=True).fetchone()[0]
                    if v != u + 100:
                        errors.append(f"client {c} read n={v} for user {u}")
        except Exception as e:  # reported below
            errors.append(f"client {c}: {e!r}")

    threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, f"8 clients x 20 server-side prepared statements over shared connections {errors}")

    cur.execute(f"SELECT user_id, {COLS} FROM driver_rows WHERE driver = %s ORDER BY user_id DESC LIMIT 5", (DRIVER,))
    rows = cur.fetchall()
    check([r[0] for r in rows] == IDS[::-1][:5], f"scatter ORDER BY/LIMIT ids {[r[0] for r in rows]}")
    check(all(utc(r[1:]) == expected(r[0]) for r in rows), "scatter rows' binary values")
    cur.execute("SELECT count(*), sum(n), max(amount), min(at) FROM driver_rows WHERE driver = %s", (DRIVER,))
    agg = utc(cur.fetchone())
    check(agg == (len(IDS), sum(u + 100 for u in IDS), expected(IDS[-1])[1], T0), f"scatter aggregate {agg}")

    u = IDS[5]
    with conn.transaction():
        conn.execute("UPDATE driver_rows SET name = %s WHERE driver = %s AND user_id = %s", ("committed", DRIVER, u))
    try:
        with conn.transaction():
            conn.execute("UPDATE driver_rows SET name = %s WHERE driver = %s AND user_id = %s", ("rolled back", DRIVER, u))
            raise KeyError("roll back")
    except KeyError:
        pass
    v = conn.execute("SELECT name FROM driver_rows WHERE driver = %s AND user_id = %s", (DRIVER, u)).fetchone()[0]
    check(v == "committed", f"committed transaction kept, rolled-back one undone: {v}")

    expect_sqlstate(lambda: conn.execute("UPDATE driver_rows SET n = 0 WHERE driver = %s", (DRIVER,)),
                    "0A000", "unkeyed UPDATE refused")

    port, count = conn.execute("SELECT inet_server_port(), count(*) FROM leaderboard").fetchone()
    check(port == REPLICA_PORT and count == SHARDS, f"leaderboard read on replica port {port}, {count} rows")

    timer = threading.Timer(0.5, conn.cancel)
    timer.start()
    expect_sqlstate(lambda: conn.execute("SELECT pg_sleep(60)"), "57014", "cancelled pg_sleep")
    check(conn.execute("SELECT 1").fetchone()[0] == 1, "connection usable after the cancel")

    u = IDS[4]
    with conn.cursor() as c:
        with c.copy(f"COPY (SELECT user_id, name FROM driver_rows WHERE driver = 'psycopg' AND user_id = {u}) TO STDOUT") as copy:
            data = b"".join(bytes(b) for b in copy)
    check(data == f"{u}\tuser {u}\n".encode(), f"COPY out: {data}")
    conn.execute("DELETE FROM driver_rows WHERE driver = 'psycopg-copy' AND user_id = %s", (u,))
    with conn.cursor() as c:
        with c.copy(f"/* shardwire: user_id={u} */ COPY driver_rows (driver, user_id, n) FROM STDIN") as copy:
            copy.write_row(("psycopg-copy", u, 7))
    v = conn.execute("SELECT n FROM driver_rows WHERE driver = 'psycopg-copy' AND user_id = %s", (u,)).fetchone()[0]
    check(v == 7, "COPY in to the user's shard")

    # Pipeline mode: one implicit transaction until the pipeline syncs, so
    # its statements must be on one shard; several shards are refused.
    same_shard = [u for u in IDS if u % SHARDS == 1]
    with conn.pipeline():
        for u in same_shard:
            conn.execute("UPDATE driver_rows SET n = %s WHERE driver = %s AND user_id = %s", (u + 200, DRIVER, u))
        results = [conn.execute("SELECT n FROM driver_rows WHERE driver = %s AND user_id = %s", (DRIVER, u))
                   for u in same_shard]
    vs = [r.fetchone()[0] for r in results]
    check(vs == [u + 200 for u in same_shard], f"pipeline mode on one shard: {vs}")

    def cross_shard_pipeline():
        with conn.pipeline():
            for u in IDS:
                conn.execute("UPDATE driver_rows SET n = 0 WHERE driver = %s AND user_id = %s", (DRIVER, u))
    expect_sqlstate(cross_shard_pipeline, "0A000", "pipeline over several shards refused")
    v = conn.execute("SELECT n FROM driver_rows WHERE driver = %s AND user_id = 0", (DRIVER,)).fetchone()[0]
    check(v == 100, f"the refused pipeline changed nothing: {v}")
    conn.close()

    # A temporary table under transaction pooling, as psycopg users make
    # one: created in autocommit, used by later statements and
    # transactions (the proxy keeps the connection for this client).
    with psycopg.connect(URL, autocommit=True) as tconn:
        tconn.execute("CREATE TEMP TABLE scratch (x int)")
        tconn.execute("INSERT INTO scratch VALUES (%s), (%s)", (1, 2))
        with tconn.transaction():
            tconn.execute("INSERT INTO scratch VALUES (%s)", (3,))
        got = tconn.execute("SELECT count(*), sum(x) FROM scratch").fetchone()
        check(got == (3, 6), f"temp table used across statements and transactions: {got}")
    print("psycopg: all checks passed")


main()
