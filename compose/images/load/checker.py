#!/usr/bin/env python3
"""compose/images/load/checker.py — owns the drills' clients and figures.

Runs inside the load container (python3 + psycopg2 from Debian). Every
drill's state lives in /var/lib/drill/<tag>/.

  load    keyed writers (per shard) and leaderboard readers through HAProxy
          or the instances, until <tag>/stop exists or --max-seconds pass;
          every acknowledged write is remembered (drill_writes row:
          drill, writer, seq). Writes <tag>/progress.json while running and
          <tag>/result.json at the end.
  mark    records an event time (the host passes the time the fault
          command returned).
  wait-ack  waits until a write begun after an event is acknowledged on a
          shard (prints the seconds from the event).
  stop    asks the load to stop and waits for result.json.
  report  the figures: time from the fault to the first acknowledged write
          on the affected shard, errors per client by SQLSTATE, and the
          acknowledged writes missing from each shard's *current* primary
          (asked from the admin console's SHOW SHARDS).
  alert   polls Prometheus' HTTP API until an alert is firing (or, with
          --pending-ok, pending; or the timeout passes) and prints its state.
  shards  prints each shard's current primary (SHOW SHARDS).
  fleet   prints the controller instance (SHOW FLEET).

Errors without a SQLSTATE (the connection itself failed) are named
conn:refused, conn:closed, conn:timeout or conn:other; a leaderboard read
abandoned after READ_DEADLINE is client:stuck-read, a write transaction
abandoned after WRITE_DEADLINE client:stuck-write (how long it really hung,
and how it ended, is reported as stuck_writes).
"""
import argparse
import json
import os
import random
import sys
import threading
import time
import urllib.parse
import urllib.request

import psycopg2

ROOT = "/var/lib/drill"
USERS = 60000
PROMETHEUS = "http://prometheus:9090"
CONSOLES = [("sw1", 6432), ("sw2", 6432)]
READ_DEADLINE = 2.0
WRITE_DEADLINE = 5.0


def tag_dir(tag):
    d = os.path.join(ROOT, tag)
    os.makedirs(d, exist_ok=True)
    return d


def classify(err):
    code = getattr(err, "pgcode", None)
    if code:
        return code
    msg = str(err).lower()
    if "refused" in msg or "no route" in msg or "could not translate" in msg:
        return "conn:refused"
    if "timeout" in msg or "timed out" in msg:
        return "conn:timeout"
    if "closed" in msg or "terminat" in msg or "eof" in msg or "reset" in msg:
        return "conn:closed"
    return "conn:other"


def hosts_by_address():
    names = {}
    with open("/etc/hosts") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and not line.startswith("#"):
                names.setdefault(parts[0], parts[1])
    return names


def connect(target, name, autocommit=False, db="app"):
    host, port = target.split(":")
    conn = psycopg2.connect(host=host, port=int(port), user="app", password="app",
                            dbname=db, connect_timeout=3, application_name=name,
                            keepalives=1, keepalives_idle=2, keepalives_interval=1,
                            keepalives_count=3)
    conn.autocommit = autocommit
    return conn


class Load:
    def __init__(self, args):
        self.args = args
        self.dir = tag_dir(args.tag)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acks = {k: [] for k in range(args.shards)}  # [writer, seq, begin, end]
        self.errors = []  # [client, target, t, code, message]
        self.reads = []   # [t, label]
        self.stuck = []   # abandoned transactions that ended: [client, begin, end, outcome]
        self.open_stuck = []  # every abandoned transaction: [client, begin]
        self.clients = {}  # client -> target
        self.addr = hosts_by_address()
        # drill_writes.drill: the drill and this run's start, so reruns never collide
        self.run_id = f"{args.tag}@{int(time.time())}"

    def error(self, client, t, err):
        code = classify(err)
        with self.lock:
            self.errors.append([client, self.clients[client], t, code, str(err).strip()[:200]])

    def writer(self, idx, shard, target):
        """Keyed writes: one transaction (UPDATE leaderboard, INSERT
        drill_writes) at a time. A transaction with no answer within
        WRITE_DEADLINE is abandoned (client:stuck-write, as an application's
        own timeout would) and the writer goes on on a new connection; the
        abandoned one is followed to its end (self.stuck) and counted as
        acknowledged if it commits after all."""
        name = f"w{idx}.s{shard}@{target.split(':')[0]}"
        self.clients[name] = target
        n = self.args.shards
        seq, conn = 0, None
        while not self.stop.is_set():
            uid = n * random.randrange(1, USERS // n) + shard
            seq += 1
            begin = time.time()
            if conn is None:
                try:
                    conn = connect(target, name)
                except psycopg2.Error as e:
                    self.error(name, time.time(), e)
                    time.sleep(0.2)
                    continue
            # Each transaction's own box, bound in run's defaults: an
            # abandoned transaction that ends later must not report into
            # the box of the writer's current one (a closure would see the
            # loop's latest box).
            box = {}

            def run(c=conn, uid=uid, seq=seq, begin=begin, box=box):
                try:
                    with c.cursor() as cur:
                        cur.execute("UPDATE leaderboard SET score = score + %s, updated_at = now() "
                                    "WHERE user_id = %s", (random.randint(1, 100), uid))
                        cur.execute("INSERT INTO drill_writes (drill, writer, seq, user_id) "
                                    "VALUES (%s, %s, %s, %s)", (self.run_id, idx, seq, uid))
                    c.commit()
                    outcome = "committed"
                    with self.lock:
                        self.acks[shard].append([idx, seq, begin, time.time()])
                except psycopg2.Error as e:
                    box["error"] = e
                    outcome = classify(e)
                if box.get("abandoned"):
                    with self.lock:
                        self.stuck.append([name, begin, time.time(), outcome])
            t = threading.Thread(target=run, daemon=True)
            t.start()
            t.join(WRITE_DEADLINE)
            if t.is_alive():
                box["abandoned"] = True
                with self.lock:
                    self.errors.append([name, target, time.time(), "client:stuck-write",
                                        f"no answer within {WRITE_DEADLINE}s; abandoned"])
                    self.open_stuck.append([name, begin])
                conn = None
                continue
            if "error" in box:
                self.error(name, time.time(), box["error"])
                try:
                    conn.close()
                except psycopg2.Error:
                    pass
                conn = None
                time.sleep(0.2)
            else:
                time.sleep(self.args.pause)

    def reader(self, idx, target):
        """Leaderboard reads outside transactions. A read that takes over
        READ_DEADLINE (a hung node answers nothing) is abandoned, counted
        as client:stuck-read, and the reader goes on on a new connection."""
        name = f"r{idx}@{target.split(':')[0]}"
        self.clients[name] = target
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = connect(target, name, autocommit=True)
                box = {}

                def run(c=conn, box=box):
                    try:
                        with c.cursor() as cur:
                            cur.execute("SELECT inet_server_addr()::text, user_id, score "
                                        "FROM leaderboard ORDER BY score DESC LIMIT 10")
                            box["rows"] = cur.fetchall()
                    except psycopg2.Error as e:
                        box["error"] = e
                t = threading.Thread(target=run, daemon=True)
                t.start()
                t.join(READ_DEADLINE)
                if t.is_alive():
                    with self.lock:
                        self.errors.append([name, target, time.time(), "client:stuck-read",
                                            f"no answer within {READ_DEADLINE}s; abandoned"])
                    conn = None
                    continue
                if "error" in box:
                    raise box["error"]
                rows = box["rows"]
                labels = {self.addr.get(str(r[0]).split("/")[0], str(r[0])) for r in rows}
                replicas = sorted(l for l in labels if l.startswith("replica"))
                label = replicas[0] if replicas else "shards"
                with self.lock:
                    self.reads.append([time.time(), label])
                time.sleep(self.args.pause * 2)
            except psycopg2.Error as e:
                self.error(name, time.time(), e)
                conn = None
                time.sleep(0.2)

    def progress(self):
        path = os.path.join(self.dir, "progress.json")
        while not self.stop.is_set():
            with self.lock:
                state = {
                    "t": time.time(),
                    "last_ack": {k: (v[-1] if v else None) for k, v in self.acks.items()},
                    "acks": {k: len(v) for k, v in self.acks.items()},
                    "errors": len(self.errors),
                    "last_read": self.reads[-1] if self.reads else None,
                }
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(state, f)
            os.replace(tmp, path)
            if os.path.exists(os.path.join(self.dir, "stop")) or \
                    time.time() - self.started > self.args.max_seconds:
                self.stop.set()
            time.sleep(0.2)

    def run(self):
        self.started = time.time()
        targets = self.args.targets.split(",")
        threads = []
        idx = 0
        for shard in range(self.args.shards):
            for j in range(self.args.writers_per_shard):
                threads.append(threading.Thread(
                    target=self.writer, args=(idx, shard, targets[idx % len(targets)]), daemon=True))
                idx += 1
        for j in range(self.args.readers):
            threads.append(threading.Thread(
                target=self.reader, args=(j, targets[j % len(targets)]), daemon=True))
        for t in threads:
            t.start()
        self.progress()
        time.sleep(0.5)  # let running transactions finish; stuck ones are not acknowledged
        with self.lock:
            result = {"tag": self.args.tag, "run": self.run_id, "shards": self.args.shards,
                      "started": self.started, "stopped": time.time(),
                      "clients": self.clients, "acks": self.acks,
                      "errors": self.errors, "reads": self.reads,
                      "stuck": self.stuck, "open_stuck": self.open_stuck}
        tmp = os.path.join(self.dir, "result.json.tmp")
        with open(tmp, "w") as f:
            json.dump(result, f)
        os.replace(tmp, os.path.join(self.dir, "result.json"))


def events(tag):
    path = os.path.join(tag_dir(tag), "events.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {}


def cmd_mark(a):
    ev = events(a.tag)
    ev[a.event] = float(a.at) if a.at else time.time()
    with open(os.path.join(tag_dir(a.tag), "events.json"), "w") as f:
        json.dump(ev, f)


def cmd_wait_ack(a):
    since = events(a.tag)[a.after]
    path = os.path.join(tag_dir(a.tag), "progress.json")
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        try:
            with open(path) as f:
                p = json.load(f)
            shards = [str(a.shard)] if a.shard is not None else list(p["last_ack"])
            firsts = []
            for s in shards:
                last = p["last_ack"].get(s)
                if last and last[2] > since:
                    firsts.append(last[3])
            if len(firsts) == len(shards):
                print(f"{max(firsts) - since:.2f}")
                return 0
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    print("timeout")
    return 1


def cmd_stop(a):
    d = tag_dir(a.tag)
    open(os.path.join(d, "stop"), "w").close()
    deadline = time.time() + 30
    while time.time() < deadline:
        if os.path.exists(os.path.join(d, "result.json")):
            return 0
        time.sleep(0.2)
    print("load did not stop", file=sys.stderr)
    return 1


def console(query):
    last = None
    for host, port in CONSOLES:
        try:
            conn = connect(f"{host}:{port}", "checker", autocommit=True, db="shardwire")
            with conn.cursor() as cur:
                cur.execute(query)
                cols = [c[0] for c in cur.description]
                rows = [dict(zip(cols, r)) for r in cur.fetchall()]
            conn.close()
            return rows
        except psycopg2.Error as e:
            last = e
    raise SystemExit(f"no shardwire console answered: {last}")


def current_primaries():
    return {int(r["shard"]): r["primary"] for r in console("SHOW SHARDS")}


def cmd_shards(a):
    for r in console("SHOW SHARDS"):
        print(f"{r['shard']} {r['primary']} {r['state']} copies={r['copies']}/{r['copies_configured']} "
              f"standbys={r['standbys']} fenced={r['fenced']}")


def cmd_fleet(a):
    rows = console("SHOW FLEET")
    for r in rows:
        if r.get("role") == "controller":
            print(r.get("instance") or r.get("name"))
            return 0
    print("none")
    return 1


def verify(result, shards):
    """Acknowledged writes missing from each shard's current primary."""
    primaries = current_primaries()
    lost, checked = {}, {}
    for k in shards:
        acked = {(w, s) for w, s, _, _ in result["acks"][str(k)]}
        node = primaries.get(k, "")
        host, _, port = node.rpartition(":")
        if not host:
            lost[k], checked[k] = len(acked), f"no primary ({node})"
            continue
        conn = psycopg2.connect(host=host, port=int(port or 5432), user="postgres",
                                password="postgres", dbname="app", connect_timeout=5)
        with conn.cursor() as cur:
            cur.execute("SELECT writer, seq FROM drill_writes WHERE drill = %s", (result["run"],))
            present = {(w, s) for w, s in cur.fetchall()}
        conn.close()
        lost[k] = len(acked - present)
        checked[k] = f"{len(acked)} acked, checked on {host}"
    return lost, checked


def cmd_report(a):
    with open(os.path.join(tag_dir(a.tag), "result.json")) as f:
        result = json.load(f)
    ev = events(a.tag)
    fault = ev.get(a.fault)
    out = {"drill": a.tag}
    shards = [a.shard] if a.shard is not None else list(range(result["shards"]))
    if fault is not None:
        firsts = []
        for k in shards:
            after = [end for _, _, begin, end in result["acks"][str(k)] if begin > fault]
            firsts.append(min(after) - fault if after else None)
        out["recovery_s"] = None if None in firsts else round(max(firsts), 2)
    # errors per client, by SQLSTATE
    per_client = {}
    for client, target, t, code, msg in result["errors"]:
        per_client.setdefault(client, {}).setdefault(code, 0)
        per_client[client][code] += 1
    out["errors"] = per_client
    totals = {}
    for codes in per_client.values():
        for c, n in codes.items():
            totals[c] = totals.get(c, 0) + n
    out["error_totals"] = totals
    by_target = {t.split(":")[0]: {} for t in set(result["clients"].values())}
    for client, target, t, code, msg in result["errors"]:
        codes = by_target[target.split(":")[0]]
        codes[code] = codes.get(code, 0) + 1
    out["errors_by_target"] = by_target
    out["samples"] = sorted({(code, msg[:120]) for _, _, _, code, msg in result["errors"]})[:6]
    ended = {(c, b): (e - b, o) for c, b, e, o in result.get("stuck", [])}
    stuck = result.get("open_stuck", [])
    if stuck:
        waits = [ended[(c, b)][0] for c, b in stuck if (c, b) in ended]
        still = [result["stopped"] - b for c, b in stuck if (c, b) not in ended]
        outcomes = sorted({ended[(c, b)][1] for c, b in stuck if (c, b) in ended})
        out["stuck_writes"] = (f"{len(stuck)} transaction(s) hung > {WRITE_DEADLINE:.0f}s"
                               + (f", ended after up to {max(waits):.0f}s ({', '.join(outcomes)})" if waits else "")
                               + (f", {len(still)} still hung at the end (up to {max(still):.0f}s)" if still else ""))
    out["acked"] = sum(len(v) for v in result["acks"].values())
    lost, checked = verify(result, range(result["shards"]))
    out["lost"] = sum(lost.values())
    out["checked"] = checked
    # where the leaderboard reads went, in order (runs of the same label)
    runs = []
    for t, label in result["reads"]:
        if not runs or runs[-1][0] != label:
            runs.append([label, 0])
        runs[-1][1] += 1
    out["reads"] = " -> ".join(f"{l}x{n}" for l, n in runs[:12])
    print(json.dumps(out))


def cmd_alert(a):
    since = events(a.tag)[a.since] if a.tag else time.time()
    want = dict(kv.split("=", 1) for kv in a.match) if a.match else {}
    deadline = time.time() + a.timeout
    best = "none"
    while True:
        try:
            with urllib.request.urlopen(PROMETHEUS + "/api/v1/alerts", timeout=3) as r:
                alerts = json.load(r)["data"]["alerts"]
        except OSError:
            alerts = []
        for al in alerts:
            labels = al["labels"]
            if labels.get("alertname") != a.name:
                continue
            if any(labels.get(k) != v for k, v in want.items()):
                continue
            if al["state"] == "firing":
                print(f"firing after {time.time() - since:.0f}s")
                return 0
            if a.pending_ok:
                print(f"pending at {time.time() - since:.0f}s")
                return 0
            best = "pending"
        if time.time() >= deadline:
            print(best if best == "none" else f"{best} at {time.time() - since:.0f}s")
            return 1
        time.sleep(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    l = sub.add_parser("load")
    l.add_argument("--tag", required=True)
    l.add_argument("--shards", type=int, default=int(os.environ.get("SHARDS", "2")))
    l.add_argument("--targets", default="haproxy:6432")
    l.add_argument("--writers-per-shard", type=int, default=2)
    l.add_argument("--readers", type=int, default=2)
    l.add_argument("--pause", type=float, default=0.02)
    l.add_argument("--max-seconds", type=float, default=300)
    m = sub.add_parser("mark")
    m.add_argument("tag"); m.add_argument("event"); m.add_argument("at", nargs="?")
    w = sub.add_parser("wait-ack")
    w.add_argument("--tag", required=True); w.add_argument("--after", required=True)
    w.add_argument("--shard", type=int); w.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("stop")
    s.add_argument("--tag", required=True)
    r = sub.add_parser("report")
    r.add_argument("--tag", required=True); r.add_argument("--fault")
    r.add_argument("--shard", type=int)
    al = sub.add_parser("alert")
    al.add_argument("name"); al.add_argument("--tag"); al.add_argument("--since")
    al.add_argument("--match", action="append"); al.add_argument("--timeout", type=float, default=60)
    al.add_argument("--pending-ok", action="store_true",
                    help="return as soon as the alert is pending (its for: not waited out)")
    sub.add_parser("shards")
    sub.add_parser("fleet")
    a = p.parse_args()
    if a.cmd == "load":
        Load(a).run()
        return 0
    return {"mark": cmd_mark, "wait-ack": cmd_wait_ack, "stop": cmd_stop, "report": cmd_report,
            "alert": cmd_alert, "shards": cmd_shards, "fleet": cmd_fleet}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
