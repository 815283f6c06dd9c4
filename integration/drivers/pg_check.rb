# ruby-pg through shardwire: keyed writes (exec_params) checked on their
# shard, named prepared statements (prepare / exec_prepared) from several
# clients sharing few server connections, binary and text results (also
# through scatter-gather), transactions, a refused unkeyed write, the
# replica read, cancel and COPY.
#
# Environment: SHARDWIRE_URL, SHARD_URLS (space-separated, shard order),
# SHARDS, REPLICA_PORT. Exits non-zero with a message on the first failed
# check.
require 'pg'
require 'bigdecimal'
require 'time'

DRIVER = 'ruby-pg'
URL = ENV.fetch('SHARDWIRE_URL')
SHARD_URLS = ENV.fetch('SHARD_URLS').split
SHARDS = Integer(ENV.fetch('SHARDS'))
REPLICA_PORT = Integer(ENV.fetch('REPLICA_PORT'))
IDS = (0...(2 * SHARDS)).to_a
T0 = Time.utc(2024, 1, 2, 3, 4, 5)
COLS = 'n, amount, name, at, flag, blob, tags, note'

def check(cond, what)
  unless cond
    puts "FAILED [#{DRIVER}]: #{what}"
    exit 1
  end
  puts "ok: #{what}"
end

def expected(u, offset = 100)
  [u + offset, BigDecimal(u) + BigDecimal('0.25'), "user #{u}", T0 + u, u.even?,
   [0, 255, u].pack('C*'), [u, -u], u.even? ? nil : "note #{u}"]
end

def sqlstate
  yield
  'no error'
rescue PG::Error => e
  e.result&.error_field(PG::Result::PG_DIAG_SQLSTATE) || "no SQLSTATE (#{e})"
end

def typed(conn)
  conn.type_map_for_results = PG::BasicTypeMapForResults.new(conn)
  conn
end

def normalize(row)
  row.map { |v| v.is_a?(Time) ? v.utc : v }
end

puts "driver: ruby-pg #{PG::VERSION} (libpq #{PG.library_version})"
conn = typed(PG.connect(URL))
IDS.each do |u|
  conn.exec_params('DELETE FROM driver_rows WHERE driver = $1 AND user_id = $2', [DRIVER, u])
  e = expected(u, 0)
  conn.exec_params("INSERT INTO driver_rows (driver, user_id, #{COLS}) VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, $8::bytea, $9::int[], $10)",
                   [DRIVER, u, e[0], e[1].to_s('F'), e[2], e[3].iso8601, e[4],
                    conn.escape_bytea(e[5]), PG::TextEncoder::Array.new.encode(e[6]), e[7]])
  conn.exec_params('UPDATE driver_rows SET n = n + 100 WHERE driver = $1 AND user_id = $2', [DRIVER, u])
end
IDS.each do |u|
  row = conn.exec_params("SELECT #{COLS} FROM driver_rows WHERE driver = $1 AND user_id = $2", [DRIVER, u]).values.first
  check(normalize(row) == expected(u), "keyed read-back of user #{u} (text): #{row.inspect}")
  bin = conn.exec_params('SELECT n, name, flag, blob, note FROM driver_rows WHERE driver = $1 AND user_id = $2',
                         [DRIVER, u], 1).values.first
  e = expected(u)
  check(bin == [e[0], e[2], e[4], e[5], e[7]], "keyed read-back of user #{u} (binary): #{bin.inspect}")
end

SHARD_URLS.each_with_index do |url, k|
  d = PG.connect(url)
  got = d.exec_params('SELECT user_id FROM driver_rows WHERE driver = $1 ORDER BY user_id', [DRIVER]).column_values(0).map(&:to_i)
  d.close
  check(got == IDS.select { |u| u % SHARDS == k }, "shard #{k} holds exactly its users: #{got}")
end

failures = Queue.new
threads = (0...8).map do |c|
  Thread.new do
    cc = PG.connect(URL)
    cc.prepare('by_user', 'SELECT n FROM driver_rows WHERE driver = $1 AND user_id = $2')
    20.times do |i|
      u = IDS[(c + i) % IDS.size]
      v = cc.exec_prepared('by_user', [DRIVER, u]).getvalue(0, 0).to_i
      failures << "client #{c} user #{u}: #{v}" if v != u + 100
    end
    cc.close
  rescue PG::Error => e
    failures << "client #{c}: #{e}"
  end
end
threads.each(&:join)
check(failures.empty?, "8 clients x 20 exec_prepared over shared server connections")

rows = conn.exec_params("SELECT user_id, #{COLS} FROM driver_rows WHERE driver = $1 ORDER BY user_id DESC LIMIT 5", [DRIVER]).values
check(rows.map(&:first) == [11, 10, 9, 8, 7], "scatter ORDER BY/LIMIT ids #{rows.map(&:first)}")
check(rows.all? { |r| normalize(r[1..]) == expected(r[0]) }, 'scatter rows (text)')
bin = conn.exec_params('SELECT user_id, n, name, flag, blob FROM driver_rows WHERE driver = $1 ORDER BY user_id LIMIT 3',
                       [DRIVER], 1).values
check(bin == [0, 1, 2].map { |u| e = expected(u); [u, e[0], e[2], e[4], e[5]] }, "scatter rows (binary): #{bin.inspect}")
agg = conn.exec_params('SELECT count(*), sum(n), max(amount), min(at) FROM driver_rows WHERE driver = $1', [DRIVER]).values.first
check(normalize(agg) == [12, 1266, BigDecimal('11.25'), T0], "scatter aggregate #{agg.inspect}")

u = 5
conn.transaction do |c|
  c.exec_params('UPDATE driver_rows SET name = $1 WHERE driver = $2 AND user_id = $3', ['committed', DRIVER, u])
end
begin
  conn.transaction do |c|
    c.exec_params('UPDATE driver_rows SET name = $1 WHERE driver = $2 AND user_id = $3', ['rolled back', DRIVER, u])
    raise KeyError, 'roll back'
  end
rescue KeyError
  nil
end
name = conn.exec_params('SELECT name FROM driver_rows WHERE driver = $1 AND user_id = $2', [DRIVER, u]).getvalue(0, 0)
check(name == 'committed', "committed transaction kept, rolled-back one undone: #{name}")

state = sqlstate { conn.exec_params('UPDATE driver_rows SET n = 0 WHERE driver = $1', [DRIVER]) }
check(state == '0A000', "unkeyed UPDATE refused: #{state}")

port, count = conn.exec('SELECT inet_server_port(), count(*) FROM leaderboard').values.first
check(port == REPLICA_PORT && count == SHARDS, "leaderboard read on replica port #{port}, #{count} rows")

canceller = Thread.new { sleep 0.5; conn.cancel }
state = sqlstate { conn.exec('SELECT pg_sleep(60)') }
canceller.join
check(state == '57014', "cancelled pg_sleep: #{state}")

out = +''
conn.copy_data("COPY (SELECT user_id, name FROM driver_rows WHERE driver = 'ruby-pg' AND user_id = 4) TO STDOUT") do
  while (line = conn.get_copy_data)
    out << line
  end
end
check(out == "4\tuser 4\n", "COPY out: #{out.inspect}")
conn.exec("DELETE FROM driver_rows WHERE driver = 'ruby-pg-copy' AND user_id = 4")
conn.copy_data('/* shardwire: user_id=4 */ COPY driver_rows (driver, user_id, n) FROM STDIN') do
  conn.put_copy_data("ruby-pg-copy\t4\t7\n")
end
v = conn.exec("SELECT n FROM driver_rows WHERE driver = 'ruby-pg-copy' AND user_id = 4").getvalue(0, 0)
check(v == 7, 'COPY in to the user\'s shard')
conn.close
puts 'ruby-pg: all checks passed'
