#!/bin/sh
# demo.sh - what `make demo` shows: shade altering a busy table online.
#
# Starts a throwaway PostgreSQL 15 and MariaDB 10.11 on unix sockets in a
# temporary directory (tests/lib.sh), fills a table, and while a writer
# keeps inserting, updating (keys too) and deleting rows, alters the table
# with build/shade, showing its progress. The writer applies every change to
# a mirror table in the same transaction; at the end the altered table must
# equal the mirror row for row: nothing lost, nothing stale.
#
# DEMO_ROWS (default 1000000) sets the PostgreSQL table's size; MariaDB gets
# a fifth of it, enough to see the phases go by.
set -eu

. "$(dirname "$0")/../tests/lib.sh"

ROWS=${DEMO_ROWS:-1000000}
MY_ROWS=$((ROWS / 5))

say()
{
	printf '\n== %s\n' "$*"
}

# The writer's schema (tests/tools/writer.c), filled with generated rows.
pg_fill()
{
	pg_sql <<SQL
CREATE TABLE items (
	id bigint PRIMARY KEY,
	sku text NOT NULL,
	qty int NOT NULL,
	price numeric(12,2),
	note text,
	updated_at timestamp NOT NULL DEFAULT now()
);
CREATE INDEX items_sku_idx ON items (sku);
INSERT INTO items
SELECT g, 'SKU-' || g, g % 100, (g % 1000) / 10.0,
       CASE WHEN g % 7 = 0 THEN NULL ELSE 'note ' || g || ' ☃ "q" ''s' END,
       timestamp '2026-01-01' + g * interval '1 second'
FROM generate_series(1, $ROWS) g;
CREATE TABLE items_mirror (LIKE items INCLUDING ALL);
INSERT INTO items_mirror SELECT * FROM items;
ANALYZE items;
SQL
}

my_fill()
{
	my_sql <<SQL
CREATE TABLE items (
	id BIGINT PRIMARY KEY,
	sku VARCHAR(64) NOT NULL,
	qty INT NOT NULL,
	price DECIMAL(12,2),
	note TEXT,
	updated_at DATETIME(6) NOT NULL,
	KEY items_sku_idx (sku)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO items
SELECT seq, CONCAT('SKU-', seq), seq % 100, (seq % 1000) / 10.0,
       IF(seq % 7 = 0, NULL, CONCAT('note ', seq, ' ☃ "q" ''s')),
       '2026-01-01' + INTERVAL seq SECOND
FROM seq_1_to_$MY_ROWS;
CREATE TABLE items_mirror LIKE items;
INSERT INTO items_mirror SELECT * FROM items;
SQL
}

pg_differences()
{
	pg_val "SELECT count(*) FROM (
	  (SELECT id, sku, qty, price, note, updated_at FROM items
	   EXCEPT ALL SELECT id, sku, qty, price, note, updated_at FROM items_mirror)
	  UNION ALL
	  (SELECT id, sku, qty, price, note, updated_at FROM items_mirror
	   EXCEPT ALL SELECT id, sku, qty, price, note, updated_at FROM items)) d"
}

my_differences()
{
	my_val "SELECT
	  (SELECT count(*) FROM items i LEFT JOIN items_mirror m ON m.id = i.id
	   WHERE m.id IS NULL OR NOT (i.sku <=> m.sku AND i.qty <=> m.qty
	     AND i.price <=> m.price AND i.note <=> m.note AND i.updated_at <=> m.updated_at))
	 + (SELECT count(*) FROM items_mirror m LEFT JOIN items i ON i.id = m.id
	   WHERE i.id IS NULL)"
}

demo_pg()
{
	say "PostgreSQL 15: a table of $ROWS rows"
	pg_start
	pg_newdb shade_demo
	pg_fill
	say "a writer starts: inserts, updates (keys too), deletes, ~300 tx/s"
	start_writer --engine pg --dsn "$PG_DSN" --table items --mirror items_mirror \
	    --workers 2 --rate 300 --seconds 900
	sleep 1
	say "shade --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0, ALTER COLUMN qty TYPE bigint' --execute"
	"$SHADE_BIN" --dsn "$PG_DSN" --table items \
	    --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0, ALTER COLUMN qty TYPE bigint' \
	    --execute --progress-interval 1
	stop_writer
	say "check: the new table against the mirror the writer kept"
	psql -X -d "$PG_DB" -c "\\d items"
	diff=$(pg_differences)
	rows=$(pg_val "SELECT count(*) FROM items")
	[ "$diff" = 0 ] || fail "PostgreSQL: $diff rows differ from the mirror"
	echo "PostgreSQL: all $rows rows equal the mirror; nothing lost"
}

demo_my()
{
	say "MariaDB 10.11: a table of $MY_ROWS rows"
	my_start
	my_newdb shade_demo
	my_fill
	say "shade --alter 'ADD COLUMN flag tinyint NOT NULL DEFAULT 0, MODIFY qty bigint NOT NULL' --execute"
	"$SHADE_BIN" --dsn "$MY_DSN" --table items \
	    --alter 'ADD COLUMN flag tinyint NOT NULL DEFAULT 0, MODIFY qty bigint NOT NULL' \
	    --execute --progress-interval 1 &
	shade_pid=$!
	# MariaDB bug MDEV-26048 fails an application's prepared statement that
	# straddles the creation of a table's first trigger (an error the
	# application sees, not a lost write): the writer starts once shade's
	# triggers exist, with the copy paused meanwhile so that it overlaps.
	i=0
	until [ "$(my_val "SELECT count(*) FROM information_schema.triggers
	    WHERE trigger_schema = DATABASE() AND event_object_table = 'items'")" = 3 ]; do
		i=$((i + 1))
		[ "$i" -lt 600 ] || fail "MariaDB: shade created no triggers in 60 s"
		sleep 0.1
	done
	say "operator: kill -USR1 (pause the copy); a writer starts: inserts, updates (keys too), deletes"
	kill -USR1 "$shade_pid"
	start_writer --engine mysql --dsn "$MY_DSN" --table items --mirror items_mirror \
	    --workers 2 --rate 300 --seconds 900
	sleep 2
	say "operator: kill -USR2 (resume)"
	kill -USR2 "$shade_pid"
	wait "$shade_pid" || fail "MariaDB: shade failed"
	stop_writer
	say "check: the new table against the mirror the writer kept"
	my_sql "SHOW CREATE TABLE items\\G"
	diff=$(my_differences)
	rows=$(my_val "SELECT count(*) FROM items")
	[ "$diff" = 0 ] || fail "MariaDB: $diff rows differ from the mirror"
	echo "MariaDB: all $rows rows equal the mirror; nothing lost"
}

demo_pg
demo_my
say "demo finished: both tables were altered under load and nothing was lost"
