// pgx (v4, Debian's golang-github-jackc-pgx-v4-dev) through shardwire:
// keyed writes checked on their shard, the prepared-statement cache shared
// by a pool of clients, binary results (also through scatter-gather),
// transactions, a refused unkeyed write, the replica read, cancel through a
// context, COPY and a batch.
//
// Environment: SHARDWIRE_URL, SHARD_URLS (space-separated, shard order),
// SHARDS, REPLICA_PORT. Exits non-zero with a message on the first failed
// check. Built offline: GO111MODULE=off GOPATH=/usr/share/gocode.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

const driver = "pgx"
const cols = "n, amount, name, at, flag, blob, tags, note"

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

type row struct {
	N      int32
	Amount float64
	Name   string
	At     time.Time
	Flag   bool
	Blob   []byte
	Tags   []int32
	Note   *string
}

func expected(u int, offset int) row {
	var note *string
	if u%2 == 1 {
		s := fmt.Sprintf("note %d", u)
		note = &s
	}
	return row{int32(u + offset), float64(u) + 0.25, fmt.Sprintf("user %d", u),
		t0.Add(time.Duration(u) * time.Second), u%2 == 0, []byte{0, 255, byte(u)},
		[]int32{int32(u), int32(-u)}, note}
}

func same(a, b row) bool {
	a.At, b.At = a.At.UTC(), b.At.UTC()
	return reflect.DeepEqual(a, b)
}

func check(cond bool, format string, args ...interface{}) {
	what := fmt.Sprintf(format, args...)
	if !cond {
		fmt.Printf("FAILED [%s]: %s\n", driver, what)
		os.Exit(1)
	}
	fmt.Printf("ok: %s\n", what)
}

func must(err error, what string) {
	if err != nil {
		fmt.Printf("FAILED [%s]: %s: %v\n", driver, what, err)
		os.Exit(1)
	}
}

func sqlstate(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return fmt.Sprintf("no SQLSTATE (%v)", err)
}

func scanRow(r pgx.Row) (row, error) {
	var x row
	err := r.Scan(&x.N, &x.Amount, &x.Name, &x.At, &x.Flag, &x.Blob, &x.Tags, &x.Note)
	return x, err
}

func main() {
	ctx := context.Background()
	url := os.Getenv("SHARDWIRE_URL")
	shardURLs := strings.Fields(os.Getenv("SHARD_URLS"))
	shards, _ := strconv.Atoi(os.Getenv("SHARDS"))
	replicaPort, _ := strconv.Atoi(os.Getenv("REPLICA_PORT"))
	ids := make([]int, 2*shards)
	for i := range ids {
		ids[i] = i
	}
	fmt.Println("driver: pgx v4 (Debian golang-github-jackc-pgx-v4-dev)")
	conn, err := pgx.Connect(ctx, url)
	must(err, "connect")
	for _, u := range ids {
		_, err = conn.Exec(ctx, "DELETE FROM driver_rows WHERE driver = $1 AND user_id = $2", driver, u)
		must(err, "delete")
		e := expected(u, 0)
		_, err = conn.Exec(ctx, "INSERT INTO driver_rows (driver, user_id, "+cols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
			driver, u, e.N, e.Amount, e.Name, e.At, e.Flag, e.Blob, e.Tags, e.Note)
		must(err, fmt.Sprintf("keyed insert of user %d", u))
		_, err = conn.Exec(ctx, "UPDATE driver_rows SET n = n + 100 WHERE driver = $1 AND user_id = $2", driver, u)
		must(err, "keyed update")
	}
	for _, u := range ids {
		got, err := scanRow(conn.QueryRow(ctx, "SELECT "+cols+" FROM driver_rows WHERE driver = $1 AND user_id = $2", driver, u))
		must(err, "keyed select")
		check(same(got, expected(u, 100)), "keyed read-back of user %d (binary): %+v", u, got)
	}
	for k, su := range shardURLs {
		direct, err := pgx.Connect(ctx, su)
		must(err, "connect to shard")
		rows, err := direct.Query(ctx, "SELECT user_id FROM driver_rows WHERE driver = $1 ORDER BY user_id", driver)
		must(err, "direct read")
		var got, want []int64
		for rows.Next() {
			var v int64
			must(rows.Scan(&v), "scan")
			got = append(got, v)
		}
		for _, u := range ids {
			if u%shards == k {
				want = append(want, int64(u))
			}
		}
		direct.Close(ctx)
		check(reflect.DeepEqual(got, want), "shard %d holds exactly its users: %v", k, got)
	}

	pool, err := pgxpool.Connect(ctx, url+"?pool_max_conns=8")
	must(err, "pool")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				u := ids[(c+i)%len(ids)]
				var n int32
				err := pool.QueryRow(ctx, "SELECT n FROM driver_rows WHERE driver = $1 AND user_id = $2", driver, u).Scan(&n)
				if err != nil || int(n) != u+100 {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("client %d user %d: n=%d err=%v", c, u, n, err))
					mu.Unlock()
				}
			}
		}(c)
	}
	wg.Wait()
	pool.Close()
	check(len(failures) == 0, "8 pooled clients x 20 cached statements over shared server connections %v", failures)

	rows, err := conn.Query(ctx, "SELECT user_id, "+cols+" FROM driver_rows WHERE driver = $1 ORDER BY user_id DESC LIMIT 5", driver)
	must(err, "scatter read")
	var order []int
	for rows.Next() {
		var x row
		var u int64
		must(rows.Scan(&u, &x.N, &x.Amount, &x.Name, &x.At, &x.Flag, &x.Blob, &x.Tags, &x.Note), "scan scatter row")
		check(same(x, expected(int(u), 100)), "scatter row %d's binary values", u)
		order = append(order, int(u))
	}
	must(rows.Err(), "scatter rows")
	check(reflect.DeepEqual(order, []int{11, 10, 9, 8, 7}), "scatter ORDER BY/LIMIT ids %v", order)
	var count int64
	var sum int64
	var maxAmount float64
	var minAt time.Time
	must(conn.QueryRow(ctx, "SELECT count(*), sum(n), max(amount), min(at) FROM driver_rows WHERE driver = $1", driver).
		Scan(&count, &sum, &maxAmount, &minAt), "scatter aggregate")
	wantSum := int64(0)
	for _, u := range ids {
		wantSum += int64(u + 100)
	}
	check(count == int64(len(ids)) && sum == wantSum && maxAmount == float64(ids[len(ids)-1])+0.25 && minAt.Equal(t0),
		"scatter aggregate %d %d %v %v", count, sum, maxAmount, minAt)

	u := ids[5]
	tx, err := conn.Begin(ctx)
	must(err, "begin")
	_, err = tx.Exec(ctx, "UPDATE driver_rows SET name = $3 WHERE driver = $1 AND user_id = $2", driver, u, "committed")
	must(err, "update in transaction")
	must(tx.Commit(ctx), "commit")
	tx, err = conn.Begin(ctx)
	must(err, "begin")
	_, err = tx.Exec(ctx, "UPDATE driver_rows SET name = $3 WHERE driver = $1 AND user_id = $2", driver, u, "rolled back")
	must(err, "update in transaction")
	must(tx.Rollback(ctx), "rollback")
	var name string
	must(conn.QueryRow(ctx, "SELECT name FROM driver_rows WHERE driver = $1 AND user_id = $2", driver, u).Scan(&name), "read")
	check(name == "committed", "committed transaction kept, rolled-back one undone: %s", name)

	_, err = conn.Exec(ctx, "UPDATE driver_rows SET n = 0 WHERE driver = $1", driver)
	check(sqlstate(err) == "0A000", "unkeyed UPDATE refused: %s (%v)", sqlstate(err), err)

	var port int32
	must(conn.QueryRow(ctx, "SELECT inet_server_port(), count(*) FROM leaderboard").Scan(&port, &count), "leaderboard")
	check(int(port) == replicaPort && count == int64(shards), "leaderboard read on replica port %d, %d rows", port, count)

	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = conn.Exec(short, "SELECT pg_sleep(60)")
	cancel()
	check(err != nil, "pg_sleep cancelled through the context: %v", err)
	// pgx closes a connection whose query was interrupted by its context.
	if conn.IsClosed() {
		conn, err = pgx.Connect(ctx, url)
		must(err, "reconnect")
	}
	var one int32
	must(conn.QueryRow(ctx, "SELECT 1").Scan(&one), "after cancel")

	u = ids[4]
	_, err = conn.Exec(ctx, "DELETE FROM driver_rows WHERE driver = 'pgx-copy' AND user_id = $1", u)
	must(err, "delete")
	_, err = conn.Exec(ctx, fmt.Sprintf("SET shardwire.user_id = %d", u))
	must(err, "hint")
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"driver_rows"}, []string{"driver", "user_id", "n"},
		pgx.CopyFromRows([][]interface{}{{"pgx-copy", int64(u), int32(7)}}))
	must(err, "COPY in")
	_, err = conn.Exec(ctx, "RESET shardwire.user_id")
	must(err, "reset hint")
	var seven int32
	must(conn.QueryRow(ctx, "SELECT n FROM driver_rows WHERE driver = 'pgx-copy' AND user_id = $1", u).Scan(&seven), "read copy")
	check(n == 1 && seven == 7, "COPY in (binary) to the user's shard")

	// A batch is one implicit transaction: on one shard it runs, over
	// several shards it is refused and changes nothing.
	batch := &pgx.Batch{}
	sameShard := []int{1, 1 + shards}
	for _, u := range sameShard {
		batch.Queue("UPDATE driver_rows SET n = $3 WHERE driver = $1 AND user_id = $2", driver, u, u+200)
	}
	br := conn.SendBatch(ctx, batch)
	for range sameShard {
		_, err = br.Exec()
		must(err, "batch exec")
	}
	must(br.Close(), "batch close")
	for _, u := range sameShard {
		var v int32
		must(conn.QueryRow(ctx, "SELECT n FROM driver_rows WHERE driver = $1 AND user_id = $2", driver, u).Scan(&v), "read")
		check(int(v) == u+200, "batch update of user %d on one shard", u)
	}
	batch = &pgx.Batch{}
	for _, u := range ids {
		batch.Queue("UPDATE driver_rows SET n = 0 WHERE driver = $1 AND user_id = $2", driver, u)
	}
	br = conn.SendBatch(ctx, batch)
	var batchErr error
	for range ids {
		if _, err = br.Exec(); err != nil && batchErr == nil {
			batchErr = err
		}
	}
	br.Close()
	check(sqlstate(batchErr) == "0A000", "batch over several shards refused: %v", batchErr)
	var n0 int32
	must(conn.QueryRow(ctx, "SELECT n FROM driver_rows WHERE driver = $1 AND user_id = 0", driver).Scan(&n0), "read")
	check(n0 == 100, "the refused batch changed nothing (n=%d)", n0)
	conn.Close(ctx)

	// A temporary table under transaction pooling, as pgx users make one:
	// created outside a transaction, used by later statements and a
	// transaction (the proxy keeps the connection for this client).
	tconn, err := pgx.Connect(ctx, url)
	must(err, "connect for the temp table")
	_, err = tconn.Exec(ctx, "CREATE TEMP TABLE scratch (x int)")
	must(err, "create temp table")
	_, err = tconn.Exec(ctx, "INSERT INTO scratch VALUES ($1), ($2)", 1, 2)
	must(err, "insert into temp table")
	ttx, err := tconn.Begin(ctx)
	must(err, "begin")
	_, err = ttx.Exec(ctx, "INSERT INTO scratch VALUES ($1)", 3)
	must(err, "insert in transaction")
	must(ttx.Commit(ctx), "commit")
	var tempRows, total int64
	must(tconn.QueryRow(ctx, "SELECT count(*), sum(x) FROM scratch").Scan(&tempRows, &total), "read temp table")
	check(tempRows == 3 && total == 6, "temp table used across statements and a transaction (%d rows, sum %d)", tempRows, total)
	tconn.Close(ctx)
	fmt.Println("pgx: all checks passed")
}
