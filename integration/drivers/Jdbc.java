// pgJDBC through shardwire: keyed writes checked on their shard, server-side
// prepared statements past prepareThreshold shared by several clients,
// binary results (also through scatter-gather), transactions, a refused
// unkeyed write, the replica read, cancel, COPY and batches.
//
// Environment: SHARDWIRE_URL, SHARD_URLS (space-separated postgres:// URLs,
// shard order), SHARDS, REPLICA_PORT. Exits non-zero with a message on the
// first failed check. Built with javac against Debian's postgresql.jar.

import java.io.ByteArrayOutputStream;
import java.io.StringReader;
import java.math.BigDecimal;
import java.net.URI;
import java.sql.*;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.*;
import java.util.concurrent.*;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

public class Jdbc {
    static final String DRIVER = "pgjdbc";
    static final String COLS = "n, amount, name, at, flag, blob, tags, note";
    static final OffsetDateTime T0 = OffsetDateTime.of(2024, 1, 2, 3, 4, 5, 0, ZoneOffset.UTC);
    static int shards;
    static List<Integer> ids = new ArrayList<>();

    static void check(boolean cond, String what) {
        if (!cond) {
            System.out.println("FAILED [" + DRIVER + "]: " + what);
            System.exit(1);
        }
        System.out.println("ok: " + what);
    }

    /** postgres://user:pw@host:port/db -> JDBC URL with the given extra parameters. */
    static String jdbcUrl(String url, String extra) {
        URI u = URI.create(url);
        String[] cred = u.getUserInfo().split(":", 2);
        return "jdbc:postgresql://" + u.getHost() + ":" + u.getPort() + u.getPath()
            + "?user=" + cred[0] + "&password=" + cred[1] + extra;
    }

    static List<Object> expected(int u, int offset) {
        return Arrays.asList(u + offset, new BigDecimal(u).add(new BigDecimal("0.25")), "user " + u,
            T0.plusSeconds(u), u % 2 == 0, Arrays.toString(new byte[] {0, (byte) 255, (byte) u}),
            Arrays.toString(new Integer[] {u, -u}), u % 2 == 0 ? null : "note " + u);
    }

    static List<Object> read(ResultSet rs, int first) throws SQLException {
        Array tags = rs.getArray(first + 6);
        return Arrays.asList(rs.getInt(first), rs.getBigDecimal(first + 1), rs.getString(first + 2),
            rs.getObject(first + 3, OffsetDateTime.class).withOffsetSameInstant(ZoneOffset.UTC),
            rs.getBoolean(first + 4), Arrays.toString(rs.getBytes(first + 5)),
            Arrays.toString((Integer[]) tags.getArray()), rs.getString(first + 7));
    }

    static String sqlstate(ThrowingRunnable r) {
        try {
            r.run();
            return "no error";
        } catch (BatchUpdateException e) {
            SQLException next = e.getNextException();
            return next != null ? next.getSQLState() : e.getSQLState();
        } catch (SQLException e) {
            return e.getSQLState();
        } catch (Exception e) {
            return "not an SQLException: " + e;
        }
    }

    interface ThrowingRunnable { void run() throws Exception; }

    public static void main(String[] args) throws Exception {
        String url = System.getenv("SHARDWIRE_URL");
        String[] shardUrls = System.getenv("SHARD_URLS").trim().split("\\s+");
        shards = Integer.parseInt(System.getenv("SHARDS"));
        int replicaPort = Integer.parseInt(System.getenv("REPLICA_PORT"));
        for (int u = 0; u < 2 * shards; u++) ids.add(u);
        String proxy = jdbcUrl(url, "&prepareThreshold=2");
        Connection conn = DriverManager.getConnection(proxy);
        System.out.println("driver: pgJDBC " + conn.getMetaData().getDriverVersion()
            + " on Java " + System.getProperty("java.version"));

        PreparedStatement del = conn.prepareStatement("DELETE FROM driver_rows WHERE driver = ? AND user_id = ?");
        PreparedStatement ins = conn.prepareStatement("INSERT INTO driver_rows (driver, user_id, " + COLS
            + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        PreparedStatement upd = conn.prepareStatement("UPDATE driver_rows SET n = n + 100 WHERE driver = ? AND user_id = ?");
        for (int u : ids) {
            del.setString(1, DRIVER); del.setLong(2, u); del.executeUpdate();
            ins.setString(1, DRIVER); ins.setLong(2, u); ins.setInt(3, u);
            ins.setBigDecimal(4, new BigDecimal(u).add(new BigDecimal("0.25")));
            ins.setString(5, "user " + u); ins.setObject(6, T0.plusSeconds(u));
            ins.setBoolean(7, u % 2 == 0); ins.setBytes(8, new byte[] {0, (byte) 255, (byte) u});
            ins.setArray(9, conn.createArrayOf("int4", new Integer[] {u, -u}));
            ins.setString(10, u % 2 == 0 ? null : "note " + u);
            ins.executeUpdate();
            upd.setString(1, DRIVER); upd.setLong(2, u); upd.executeUpdate();
        }
        PreparedStatement sel = conn.prepareStatement("SELECT " + COLS + " FROM driver_rows WHERE driver = ? AND user_id = ?");
        for (int u : ids) {
            sel.setString(1, DRIVER); sel.setLong(2, u);
            try (ResultSet rs = sel.executeQuery()) {
                check(rs.next() && read(rs, 1).equals(expected(u, 100)), "keyed read-back of user " + u);
            }
        }
        for (int k = 0; k < shardUrls.length; k++) {
            try (Connection d = DriverManager.getConnection(jdbcUrl(shardUrls[k], ""));
                 Statement s = d.createStatement();
                 ResultSet rs = s.executeQuery("SELECT user_id FROM driver_rows WHERE driver = 'pgjdbc' ORDER BY user_id")) {
                List<Integer> got = new ArrayList<>(), want = new ArrayList<>();
                while (rs.next()) got.add(rs.getInt(1));
                for (int u : ids) if (u % shards == k) want.add(u);
                check(got.equals(want), "shard " + k + " holds exactly its users: " + got);
            }
        }

        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<String>> results = new ArrayList<>();
        for (int c = 0; c < 8; c++) {
            final int client = c;
            results.add(pool.submit(() -> {
                try (Connection cc = DriverManager.getConnection(proxy);
                     PreparedStatement ps = cc.prepareStatement("SELECT n FROM driver_rows WHERE driver = ? AND user_id = ?")) {
                    for (int i = 0; i < 20; i++) {
                        int u = ids.get((client + i) % ids.size());
                        ps.setString(1, DRIVER); ps.setLong(2, u);
                        try (ResultSet rs = ps.executeQuery()) {
                            if (!rs.next() || rs.getInt(1) != u + 100) return "client " + client + " user " + u;
                        }
                    }
                }
                return null;
            }));
        }
        List<String> failures = new ArrayList<>();
        for (Future<String> f : results) if (f.get() != null) failures.add(f.get());
        pool.shutdown();
        check(failures.isEmpty(), "8 clients x 20 executions past prepareThreshold over shared connections " + failures);

        PreparedStatement scatter = conn.prepareStatement("SELECT user_id, " + COLS
            + " FROM driver_rows WHERE driver = ? ORDER BY user_id DESC LIMIT 5");
        for (int round = 0; round < 3; round++) { // past prepareThreshold: binary transfer
            scatter.setString(1, DRIVER);
            List<Integer> order = new ArrayList<>();
            try (ResultSet rs = scatter.executeQuery()) {
                while (rs.next()) {
                    int u = rs.getInt(1);
                    order.add(u);
                    check(read(rs, 2).equals(expected(u, 100)), "scatter row " + u + " (round " + round + ")");
                }
            }
            check(order.equals(Arrays.asList(11, 10, 9, 8, 7)), "scatter ORDER BY/LIMIT ids " + order);
            PreparedStatement agg = conn.prepareStatement(
                "SELECT count(*), sum(n), max(amount), min(at) FROM driver_rows WHERE driver = ?");
            agg.setString(1, DRIVER);
            try (ResultSet rs = agg.executeQuery()) {
                check(rs.next() && rs.getLong(1) == 12 && rs.getLong(2) == 1266
                    && rs.getBigDecimal(3).equals(new BigDecimal("11.25"))
                    && rs.getObject(4, OffsetDateTime.class).toInstant().equals(T0.toInstant()),
                    "scatter aggregate");
            }
        }

        int u = 5;
        PreparedStatement rename = conn.prepareStatement("UPDATE driver_rows SET name = ? WHERE driver = ? AND user_id = ?");
        conn.setAutoCommit(false);
        rename.setString(1, "committed"); rename.setString(2, DRIVER); rename.setLong(3, u); rename.executeUpdate();
        conn.commit();
        rename.setString(1, "rolled back"); rename.executeUpdate();
        conn.rollback();
        conn.setAutoCommit(true);
        sel.setString(1, DRIVER); sel.setLong(2, u);
        try (ResultSet rs = sel.executeQuery()) {
            check(rs.next() && rs.getString(3).equals("committed"), "committed transaction kept, rolled-back one undone");
        }

        String state = sqlstate(() -> {
            PreparedStatement p = conn.prepareStatement("UPDATE driver_rows SET n = 0 WHERE driver = ?");
            p.setString(1, DRIVER);
            p.executeUpdate();
        });
        check(state.equals("0A000"), "unkeyed UPDATE refused: " + state);

        try (Statement s = conn.createStatement();
             ResultSet rs = s.executeQuery("SELECT inet_server_port(), count(*) FROM leaderboard")) {
            check(rs.next() && rs.getInt(1) == replicaPort && rs.getLong(2) == shards,
                "leaderboard read on the replica (port " + rs.getInt(1) + ")");
        }

        Statement sleeper = conn.createStatement();
        Executors.newSingleThreadScheduledExecutor().schedule(() -> {
            try { sleeper.cancel(); } catch (SQLException e) { /* reported by the check below */ }
        }, 500, TimeUnit.MILLISECONDS);
        state = sqlstate(() -> sleeper.execute("SELECT pg_sleep(60)"));
        check(state.equals("57014"), "cancelled pg_sleep: " + state);

        CopyManager copy = conn.unwrap(PGConnection.class).getCopyAPI();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        copy.copyOut("COPY (SELECT user_id, name FROM driver_rows WHERE driver = 'pgjdbc' AND user_id = 4) TO STDOUT", out);
        check(out.toString().equals("4\tuser 4\n"), "COPY out: " + out);
        try (Statement s = conn.createStatement()) {
            s.execute("DELETE FROM driver_rows WHERE driver = 'pgjdbc-copy' AND user_id = 4");
        }
        long copied = copy.copyIn("/* shardwire: user_id=4 */ COPY driver_rows (driver, user_id, n) FROM STDIN",
            new StringReader("pgjdbc-copy\t4\t7\n"));
        check(copied == 1, "COPY in to the user's shard");

        PreparedStatement batch = conn.prepareStatement("UPDATE driver_rows SET n = ? WHERE driver = ? AND user_id = ?");
        List<Integer> sameShard = Arrays.asList(1, 7);
        for (int v : sameShard) {
            batch.setInt(1, v + 200); batch.setString(2, DRIVER); batch.setLong(3, v); batch.addBatch();
        }
        int[] counts = batch.executeBatch();
        check(Arrays.equals(counts, new int[] {1, 1}), "batch on one shard: " + Arrays.toString(counts));
        state = sqlstate(() -> {
            for (int v : ids) {
                batch.setInt(1, 0); batch.setString(2, DRIVER); batch.setLong(3, v); batch.addBatch();
            }
            batch.executeBatch();
        });
        check(state.equals("0A000"), "batch over several shards refused: " + state);
        sel.setString(1, DRIVER); sel.setLong(2, 0);
        try (ResultSet rs = sel.executeQuery()) {
            check(rs.next() && rs.getInt(1) == 100, "the refused batch changed nothing (n=" + rs.getInt(1) + ")");
        }
        conn.close();
        System.out.println("pgjdbc: all checks passed");
        System.exit(0);
    }
}
