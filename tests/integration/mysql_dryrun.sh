#!/bin/sh
# mysql_dryrun.sh - --dry-run on MariaDB exits 0, prints a plan that names
# the shadow, the change log, the triggers and the swap, times a sample copy,
# and changes nothing at all (catalog and data fingerprint, no leftovers):
# the ALTER is checked on a TEMPORARY copy only this session sees. An ALTER
# the server rejects is exit 2 with its message; so is a table the server
# cannot copy temporarily (partitions), and that also changes nothing.
#
# The plan is what the real code sends: it holds the exact statements of the
# index deferral (DROP INDEX) and rebuild (ADD KEY) and of the swap (RENAME
# TABLE with the sentry's name), and every statement in it (but those that
# only run when the change log has rows, or that carry a value read at the
# swap) appears word for word in the --verbose trace of a real --execute of
# the same ALTER, which then leaves the table altered, its own trigger kept.
# The ALTER adds a NOT NULL column without a DEFAULT: the copy (and the
# apply) write the value the plain ALTER gives it, 0, themselves.
set -eu
. "$(dirname "$0")/../lib.sh"

my_start
my_newdb

my_sql <<'EOF'
CREATE TABLE items (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	sku VARCHAR(40) NOT NULL,
	qty INT NOT NULL,
	KEY items_sku_idx (sku)
) ENGINE=InnoDB;
INSERT INTO items (sku, qty) SELECT CONCAT('SKU-', seq), seq % 100 FROM seq_1_to_20000;
CREATE TRIGGER items_sku_upper BEFORE INSERT ON items FOR EACH ROW
	SET NEW.sku = UPPER(NEW.sku);
CREATE TABLE parts (id INT PRIMARY KEY, v INT) ENGINE=InnoDB
	PARTITION BY HASH (id) PARTITIONS 2;
ANALYZE TABLE items;
EOF
my_fingerprint >"$T_TMP/before"

# unchanged WHAT: the database is as before, nothing of shade left.
unchanged()
{
	# (items_sku_upper is the table's own trigger)
	_left=$(my_leftovers items | grep -vx 'trigger items_sku_upper' || true)
	[ -z "$_left" ] || fail "$1: left behind: $_left"
	my_fingerprint >"$T_TMP/after"
	assert_same_file "$T_TMP/before" "$T_TMP/after" "$1: the database changed"
}

run_shade --dsn "$MY_DSN" --table items --dry-run \
    --alter 'ADD COLUMN flag TINYINT NOT NULL, MODIFY qty BIGINT NOT NULL'
assert_rc 0 "dry run"
cat "$SHADE_OUT" "$SHADE_ERR" >"$T_TMP/all"
for text in "nothing was changed" "sample copy:" "_items_new" "_items_log" \
    "CREATE TRIGGER" "_items_shade_upd" "RENAME TABLE" "items_shade_cut" \
    "ADD KEY \`items_sku_idx\`" "_items_old"; do
	assert_contains "$T_TMP/all" "$text" "dry run: the report"
done
db=\`$MY_DB\`
for stmt in \
    "ALTER TABLE $db.\`_items_new\` DROP INDEX \`items_sku_idx\`;" \
    "ALTER TABLE $db.\`_items_new\` ADD KEY \`items_sku_idx\` (\`sku\`);" \
    "INSERT INTO $db.\`_items_new\` (\`id\`, \`sku\`, \`qty\`, \`flag\`) SELECT \`id\`, \`sku\`, \`qty\`, 0 FROM" \
    "RENAME TABLE $db.\`items\` TO $db.\`items_shade_cut\`, $db.\`_items_new\` TO $db.\`items\`;" \
    "CREATE DEFINER=\`root\`@\`localhost\` TRIGGER $db.\`_items_sku_upper_shade_tmp\` BEFORE INSERT ON $db.\`_items_new\`"; do
	assert_contains "$SHADE_OUT" "$stmt" "dry run: the plan"
done
cp "$SHADE_OUT" "$T_TMP/dry.out"
unchanged "dry run"

# The JSON report: the last line on stdout, every field, sane values;
# binlog_bytes is null (the test server runs without a binary log) and
# says why; the write rate is InnoDB's, server-wide (no userstat).
run_shade --dsn "$MY_DSN" --table items --dry-run --log-format json \
    --alter 'ADD COLUMN flag TINYINT NOT NULL, MODIFY qty BIGINT NOT NULL'
assert_rc 0 "dry run, json"
tail -n 1 "$SHADE_OUT" >"$T_TMP/report"
dry_json_fields "$T_TMP/report" binlog_bytes
jq -e '.rows > 10000 and .binlog_bytes == null and .log_note == "the binary log is off"
    and .write_rate_scope == "server" and .write_rate_window >= 2
    and .apply_rate > 0 and .converges == true
    and (.plan | map(select(test("RENAME TABLE"))) | length) >= 1' \
    "$T_TMP/report" >/dev/null || fail "dry run, json: $(cat "$T_TMP/report")"
unchanged "dry run, json"

# Writes while the dry run reads the counters: a write rate > 0.
(while :; do my_sql "UPDATE items SET qty = qty + 1 WHERE id = 7" >/dev/null 2>&1 || exit 0
    done) &
loop=$!
run_shade --dsn "$MY_DSN" --table items --dry-run --log-format json --alter 'ADD COLUMN w INT'
kill "$loop" 2>/dev/null || true
wait "$loop" 2>/dev/null || true
assert_rc 0 "dry run under writes"
jq -e '.write_rate > 0' "$SHADE_OUT" >/dev/null ||
    fail "dry run under writes: $(tail -n 1 "$SHADE_OUT" | jq -c '{write_rate}')"
my_fingerprint >"$T_TMP/before"

# Preflight failures: the same exit 2 and the same one line as --execute.
my_sql "CREATE TABLE nokey (a INT, b TEXT) ENGINE=InnoDB"
my_fingerprint >"$T_TMP/before"
for what in "--table nokey --alter 'ADD COLUMN c INT'" \
    "--table nosuch --alter 'ADD COLUMN c INT'" \
    "--table items --alter 'MODIFY nosuch INT'"; do
	eval "run_shade --dsn \"\$MY_DSN\" $what --execute"
	assert_rc 2 "execute: $what"
	cp "$SHADE_ERR" "$T_TMP/exec.err"
	eval "run_shade --dsn \"\$MY_DSN\" $what --dry-run"
	assert_rc 2 "dry run: $what"
	assert_one_line "dry run: $what"
	assert_same_file "$T_TMP/exec.err" "$SHADE_ERR" "dry run and execute differ: $what"
done
unchanged "preflight failures"

run_shade --dsn "$MY_DSN" --table items --dry-run --alter 'MODIFY nosuch INT'
assert_rc 2 "dry run of a bad ALTER"
assert_one_line "dry run of a bad ALTER"
assert_contains "$SHADE_ERR" "Unknown column 'nosuch'" \
    "dry run of a bad ALTER: MariaDB's message"
unchanged "dry run of a bad ALTER"

run_shade --dsn "$MY_DSN" --table parts --dry-run --alter 'ADD COLUMN w INT'
assert_rc 2 "dry run of a partitioned table"
assert_one_line "dry run of a partitioned table"
assert_contains "$SHADE_ERR" "temporary copy" "dry run of a partitioned table: the reason"
unchanged "dry run of a partitioned table"

# The plan against a real run: the same ALTER, executed with --verbose, sends
# each statement of the plan word for word (the dry run's TEMPORARY shadow
# being the run's ordinary one). Left out: the apply's re-copy (IN (?, ?, ?))
# and its savepoint, which run only when writes were logged, and
# AUTO_INCREMENT = ?, whose value the swap reads.
run_shade --dsn "$MY_DSN" --table items --execute --verbose --drop-old \
    --alter 'ADD COLUMN flag TINYINT NOT NULL, MODIFY qty BIGINT NOT NULL'
assert_rc 0 "the real run"
sed -n 's/^shade: sql: //p' "$SHADE_ERR" >"$T_TMP/sent"
sed -n 's/^ *[0-9][0-9]*\. //p' "$T_TMP/dry.out" | sed -e 's/;$//' \
    -e 's|^/\* [^*]* \*/ ||' -e 's/^CREATE TEMPORARY TABLE /CREATE TABLE /' \
    >"$T_TMP/plan"
n=0
while IFS= read -r stmt; do
	case $stmt in
	*"IN (?, ?, ?)"* | *SAVEPOINT* | *"AUTO_INCREMENT = ?") continue ;;
	esac
	grep -Fxq -- "$stmt" "$T_TMP/sent" ||
	    fail "the plan's statement was not sent by the real run: $stmt"
	n=$((n + 1))
done <"$T_TMP/plan"
[ "$n" -ge 40 ] || fail "only $n statements of the plan compared"
note "$n statements of the plan sent word for word by the real run"
assert_eq "$(my_val "SELECT COUNT(*) FROM items WHERE flag = 0")" 20000 "the real run: rows"
assert_eq "$(my_val "SELECT COUNT(*) FROM information_schema.statistics
    WHERE table_schema = DATABASE() AND table_name = 'items'
      AND index_name = 'items_sku_idx'")" 1 "the real run: the index"
assert_eq "$(my_val "SELECT GROUP_CONCAT(trigger_name) FROM information_schema.triggers
    WHERE trigger_schema = DATABASE() AND event_object_table = 'items'")" \
    items_sku_upper "the real run: the table's own trigger"
assert_eq "$(my_val "SELECT COUNT(*) FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name IN ('_items_old', '_items_log',
      '_items_new', 'items_shade_cut')")" 0 "the real run: leftovers"

# Warnings: a transaction older than the lock timeout in items' database
# (it would keep the swap waiting), items' own trigger; instant: no, the
# server's reason; nothing changes.
my_fingerprint >"$T_TMP/before"
# The reader holds items until the dry run is done (then its sleep is
# killed), so a slow machine cannot end it before the dry run looks.
(my_client -D "$MY_DB" -e "BEGIN; SELECT COUNT(*) FROM items; SELECT SLEEP(120); COMMIT" \
    >/dev/null 2>&1) &
hold=$!
bg_track "$hold"
i=0
until [ "$(my_val "SELECT count(*) FROM information_schema.processlist
    WHERE info = 'SELECT SLEEP(120)'")" -gt 0 ]; do
	i=$((i + 1))
	[ "$i" -lt 600 ] || fail "dry run with warnings: the reader did not start"
	sleep 0.1
done
sleep 1.5  # its transaction is older than the lock timeout
run_shade --dsn "$MY_DSN" --table items --dry-run --log-format json --lock-timeout 1 \
    --alter 'MODIFY qty INT NOT NULL'
for id in $(my_val "SELECT id FROM information_schema.processlist
    WHERE info = 'SELECT SLEEP(120)'"); do
	my_sql "KILL QUERY $id" 2>/dev/null || true
done
wait "$hold" || true  # its transaction ends: nothing holds items after
assert_rc 0 "dry run with warnings"
tail -n 1 "$SHADE_OUT" >"$T_TMP/report"
jq -e '(.warnings | map(select(test("^long-running transactions .*hold .*items.*thread [0-9]+ .*transaction open"))) | length) == 1
    and (.warnings | map(select(test("has 1 trigger of its own \\(items_sku_upper\\)"))) | length) == 1
    and .instant == false and (.instant_why | test("Cannot change column type"))' \
    "$T_TMP/report" >/dev/null || fail "dry run with warnings: $(jq -c '.warnings, .instant_why' "$T_TMP/report")"
unchanged "dry run with warnings"

# instant: yes, asked of the server on an empty copy that is gone after.
run_shade --dsn "$MY_DSN" --table items --dry-run --log-format json \
    --alter 'ADD COLUMN note INT DEFAULT 5'
assert_rc 0 "dry run, instant"
tail -n 1 "$SHADE_OUT" >"$T_TMP/report"
jq -e '.instant == true and (.instant_why | test("ALGORITHM=INSTANT"))
    and (.warnings | map(select(startswith("shade is not needed"))) | length) == 1' \
    "$T_TMP/report" >/dev/null || fail "dry run, instant: $(jq -c '{instant, instant_why}' "$T_TMP/report")"
unchanged "dry run, instant"

# --attempt-instant: the ALTER made on items itself (the same InnoDB table,
# no copy), as the plain ALTER makes it on a twin.
tid="SELECT TABLE_ID FROM information_schema.INNODB_SYS_TABLES WHERE NAME = '$MY_DB/items'"
id=$(my_val "$tid")
my_sql "CREATE TABLE twin LIKE items; INSERT INTO twin SELECT * FROM items;
    ALTER TABLE twin ADD COLUMN note INT DEFAULT 5"
run_shade --dsn "$MY_DSN" --table items --execute --attempt-instant \
    --alter 'ADD COLUMN note INT DEFAULT 5'
assert_rc 0 "attempt-instant"
assert_contains "$SHADE_ERR" "made the ALTER in place" "attempt-instant: said"
assert_eq "$(my_val "$tid")" "$id" "attempt-instant: items is the same table"
cols="SELECT GROUP_CONCAT(CONCAT_WS(' ', COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE,
    IFNULL(COLUMN_DEFAULT, '-')) ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS
    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME ="
assert_eq "$(my_val "$cols 'items'")" "$(my_val "$cols 'twin'")" \
    "attempt-instant: the plain ALTER's columns"
assert_eq "$(my_val "SELECT COUNT(*) FROM items WHERE note = 5")" 20000 "attempt-instant: rows"
assert_eq "$(my_val "SELECT COUNT(*) FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name LIKE '\\_items\\_%'")" 0 \
    "attempt-instant: leftovers"

# Not instant: the server refuses ALGORITHM=INSTANT, shade says why and
# copies as usual (a new table).
run_shade --dsn "$MY_DSN" --table items --execute --attempt-instant --drop-old \
    --alter 'MODIFY note BIGINT'
assert_rc 0 "attempt-instant, not instant"
assert_contains "$SHADE_ERR" "not in place" "attempt-instant, not instant: said"
assert_contains "$SHADE_ERR" "Cannot change column type" "attempt-instant, not instant: why"
[ "$(my_val "$tid")" != "$id" ] || fail "attempt-instant, not instant: items was not copied"
assert_eq "$(my_val "SELECT COLUMN_TYPE FROM information_schema.COLUMNS
    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'items' AND COLUMN_NAME = 'note'")" \
    "bigint(20)" "attempt-instant, not instant: the ALTER"

t_pass
