"""asyncpg through shardwire: keyed writes checked on their shard, the
statement cache shared by several pooled clients, binary results (also
through scatter-gather), transactions, a refused unkeyed write, the
replica read, a cursor inside a transaction, cancel, COPY and executemany.

Environment: SHARDWIRE_URL, SHARD_URLS (space-separated, shard order),
SHARDS, REPLICA_PORT. Exits non-zero with a message on the first failed
check. Run with Debian's /usr/bin/python3.
"""
import asyncio
import datetime
import decimal
import os
import sys

import asyncpg

DRIVER = "asyncpg"
URL = os.environ["SHARDWIRE_URL"]
SHARD_URLS = os.environ["SHARD_URLS"].split()
SHARDS = int(os.environ["SHARDS"])
REPLICA_PORT = int(os.environ.get("REPLICA_PORT", "0"))
IDS = list(range(2 * SHARDS))
T0 = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)


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


COLS = "n, amount, name, at, flag, blob, tags, note"


async def expect_sqlstate(coro, state, what):
    try:
        await coro
    except asyncpg.PostgresError as e:
        check(e.sqlstate == state, f"{what}: SQLSTATE {e.sqlstate} ({e}), wanted {state}")
        return
    check(False, f"{what}: no error, wanted SQLSTATE {state}")


async def main():
    print(f"driver: asyncpg {asyncpg.__version__}")
    conn = await asyncpg.connect(URL, statement_cache_size=100)
    for u in IDS:
        await conn.execute("DELETE FROM driver_rows WHERE driver = $1 AND user_id = $2", DRIVER, u)
        n, amount, name, at, flag, blob, tags, note = expected(u, 0)
        await conn.execute(
            f"INSERT INTO driver_rows (driver, user_id, {COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            DRIVER, u, n, amount, name, at, flag, blob, tags, note,
        )
        await conn.execute("UPDATE driver_rows SET n = n + 100 WHERE driver = $1 AND user_id = $2", DRIVER, u)
    for u in IDS:
        row = await conn.fetchrow(f"SELECT {COLS} FROM driver_rows WHERE driver = $1 AND user_id = $2", DRIVER, u)
        check(row is not None and tuple(row) == expected(u), f"keyed read-back of user {u} (binary): {row}")
    check(True, "keyed INSERT/UPDATE/SELECT on every shard")

    # Each row on the shard that owns it, read directly from the shards.
    for k, url in enumerate(SHARD_URLS):
        direct = await asyncpg.connect(url)
        ids = [r[0] for r in await direct.fetch(
            "SELECT user_id FROM driver_rows WHERE driver = $1 ORDER BY user_id", DRIVER)]
        await direct.close()
        check(ids == [u for u in IDS if u % SHARDS == k], f"shard {k} holds exactly its users: {ids}")

    # The statement cache past its threshold, many clients on few server
    # connections (pool size 2 per shard).
    async def client(c):
        cc = await asyncpg.connect(URL)
        for i in range(20):
            u = IDS[(c + i) % len(IDS)]
            v = await cc.fetchval("SELECT n FROM driver_rows WHERE driver = $1 AND user_id = $2", DRIVER, u)
            if v != u + 100:
                raise SystemExit(f"FAILED [{DRIVER}]: client {c} read n={v} for user {u}")
        await cc.close()
    await asyncio.gather(*(client(c) for c in range(8)))
    check(True, "8 clients x 20 cached prepared statements over shared server connections")

    # Scatter-gather with ORDER BY/LIMIT, and an aggregate (binary results).
    rows = await conn.fetch(
        f"SELECT user_id, {COLS} FROM driver_rows WHERE driver = $1 ORDER BY user_id DESC LIMIT 5", DRIVER)
    check([r[0] for r in rows] == IDS[::-1][:5], f"scatter ORDER BY/LIMIT ids {[r[0] for r in rows]}")
    check(all(tuple(r)[1:] == expected(r[0]) for r in rows), "scatter rows' binary values")
    agg = await conn.fetchrow(
        "SELECT count(*), sum(n), max(amount), min(at) FROM driver_rows WHERE driver = $1", DRIVER)
    check(tuple(agg) == (len(IDS), sum(u + 100 for u in IDS), expected(IDS[-1])[1], T0),
          f"scatter aggregate {tuple(agg)}")

    # Transactions: one committed, one rolled back (prepared statements
    # inside: the first keyed Bind decides the shard).
    u = IDS[5]
    async with conn.transaction():
        await conn.execute("UPDATE driver_rows SET name = $3 WHERE driver = $1 AND user_id = $2", DRIVER, u, "committed")
        v = await conn.fetchval("SELECT name FROM driver_rows WHERE driver = $1 AND user_id = $2", DRIVER, u)
        check(v == "committed", "read own write inside a transaction")
    try:
        async with conn.transaction():
            await conn.execute("UPDATE driver_rows SET name = $3 WHERE driver = $1 AND user_id = $2", DRIVER, u, "rolled back")
            raise KeyError("roll back")
    except KeyError:
        pass
    v = await conn.fetchval("SELECT name FROM driver_rows WHERE driver = $1 AND user_id = $2", DRIVER, u)
    check(v == "committed", f"committed transaction kept, rolled-back one undone: {v}")

    # A fresh connection whose very first keyed statements are in a
    # transaction (the statement is prepared before the key is bound).
    fresh = await asyncpg.connect(URL)
    for u in IDS:
        async with fresh.transaction():
            v = await fresh.fetchval(
                "SELECT n FROM driver_rows WHERE driver = $1 AND user_id = $2 FOR UPDATE", DRIVER, u)
            check(v == u + 100, f"first statement of a transaction on shard {u % SHARDS}")
    # A cursor inside a transaction, fetched in pieces (portal suspended).
    async with fresh.transaction():
        got = [r[0] async for r in fresh.cursor(
            "SELECT g FROM driver_rows, generate_series(1, 50) g WHERE driver = $1 AND user_id = $2",
            DRIVER, IDS[3], prefetch=7)]
        check(got == list(range(1, 51)), f"cursor in a transaction, prefetch 7: {len(got)} rows")
    await fresh.close()

    # An unkeyed write is refused.
    await expect_sqlstate(conn.execute("UPDATE driver_rows SET n = 0 WHERE driver = $1", DRIVER),
                          "0A000", "unkeyed UPDATE refused")

    # The leaderboard read is served by the replica cluster.
    port, count = await conn.fetchrow("SELECT inet_server_port(), count(*) FROM leaderboard")
    check(port == REPLICA_PORT and count == SHARDS, f"leaderboard read on replica port {port}, {count} rows")

    # Cancel of a long query.
    task = asyncio.ensure_future(conn.execute("SELECT pg_sleep(60)"))
    await asyncio.sleep(0.5)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    check(await conn.fetchval("SELECT 1") == 1, "connection usable after a cancelled pg_sleep")
    await expect_sqlstate(
        conn.execute("SET statement_timeout = '200ms'; SELECT pg_sleep(30)"), "57014", "statement timeout")
    await conn.execute("RESET statement_timeout")

    # COPY out and in, keyed by a hint.
    u = IDS[4]
    out = []

    class Sink:
        async def write(self, data):
            out.append(bytes(data))

    await conn.copy_from_query(
        "SELECT user_id, name FROM driver_rows WHERE driver = $1 AND user_id = $2", DRIVER, u, output=Sink().write)
    check(b"".join(out) == f"{u}\tuser {u}\n".encode(), f"COPY out: {out}")
    await conn.execute("DELETE FROM driver_rows WHERE driver = 'asyncpg-copy' AND user_id = $1", u)
    # COPY FROM STDIN carries no key in its text: a session hint says where.
    await conn.execute(f"SET shardwire.user_id = {u}")
    await conn.copy_records_to_table(
        "driver_rows", records=[("asyncpg-copy", u, 7)], columns=["driver", "user_id", "n"])
    await conn.execute("RESET shardwire.user_id")
    v = await conn.fetchval("SELECT n FROM driver_rows WHERE driver = 'asyncpg-copy' AND user_id = $1", u)
    check(v == 7, "COPY in (binary) to the user's shard")

    # executemany: one pipelined batch (one implicit transaction), so its
    # rows must be on one shard; a batch over several shards is refused.
    same_shard = [u for u in IDS if u % SHARDS == 1]
    await conn.executemany(
        "UPDATE driver_rows SET n = $3 WHERE driver = $1 AND user_id = $2",
        [(DRIVER, u, u + 200) for u in same_shard])
    vs = [await conn.fetchval("SELECT n FROM driver_rows WHERE driver = $1 AND user_id = $2", DRIVER, u)
          for u in same_shard]
    check(vs == [u + 200 for u in same_shard], f"executemany on one shard: {vs}")
    await expect_sqlstate(conn.executemany(
        "UPDATE driver_rows SET n = $3 WHERE driver = $1 AND user_id = $2",
        [(DRIVER, u, 0) for u in IDS]), "0A000", "executemany over several shards refused")
    check(await conn.fetchval("SELECT n FROM driver_rows WHERE driver = $1 AND user_id = $2", DRIVER, 0) == 100,
          "the refused batch changed nothing")
    await conn.close()
    print("asyncpg: all checks passed")


asyncio.run(main())
