#!/bin/sh
# mysql_fk.sh - a MariaDB table with foreign keys in both directions is
# migrated under concurrent writes to it, its parent and its child, and
# comes out with every row right and every key as the plain ALTER leaves it.
#
# p (parent) <- t (the table, key t_p, RESTRICT) <- c (child, key c_t, ON
# DELETE CASCADE ON UPDATE CASCADE), and cn (child, key cn_t, ON DELETE SET
# NULL). t_mirror and c_mirror start equal to t and c; three loads write
# them in the same transactions (stored procedures that roll the whole
# transaction back on any error and record its errno):
#   - t: inserts, updates, key updates (cascading to c) and deletes
#     (cascading to c and cn) of t's rows above 200;
#   - c: inserts referencing rows of t (INSERT ... SELECT: a row only where
#     its parent is), updates and deletes;
#   - p: inserts and deletes of parents nothing references (must succeed),
#     and deletes of parents 1..200, which t's rows 1..200 reference and no
#     load touches (must fail with 1451).
# The loads run from the capture until after the swap, through the copy,
# catch-up (held by a postpone flag) and the swap. Afterwards:
#   1. t equals t_mirror and c equals c_mirror on every row; cn's rows are
#      those of t or NULL; no load write failed on a foreign key it should
#      not have (no 1452 from the child's inserts, no 1451 from deletes of
#      unreferenced parents), and every delete of a referenced parent did;
#   2. the foreign keys of the database are those before (names, columns,
#      actions, tables): none points at _t_old or is left on it, none has
#      shade's temporary name; nothing of shade is left but _t_old;
#   3. on the new t: a delete cascades to c and sets cn's NULL, a key update
#      cascades to c, a child row without a parent and a t row without a
#      parent are refused, a referenced parent cannot be deleted;
#   4. a second migration with --drop-old drops the old table (nothing
#      references it);
#   5. a run killed mid-copy is taken up by the same command and finishes
#      with the keys right;
#   6. a run killed in its swap with the children's keys on the shadow
#      (made by hand as the swap makes them: the kill cannot be timed) is
#      taken up: the keys go back to t first, and the run finishes;
#      likewise --cleanup puts them back before it drops the shadow;
#   7. a run killed right after its RENAME (t holding the key under its
#      temporary name, the old table under its own; made by hand) is
#      refused with exit 2 naming --cleanup, which gives the key its name
#      back.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${MY_FK_ROWS:-60000}

my_start
my_newdb

my_sql <<EOF
CREATE TABLE p (id INT PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO p SELECT seq FROM seq_1_to_400;
CREATE TABLE t (id INT PRIMARY KEY, pid INT NOT NULL, v INT NOT NULL,
	KEY t_pid (pid), CONSTRAINT t_p FOREIGN KEY (pid) REFERENCES p (id))
	ENGINE=InnoDB;
INSERT INTO t SELECT seq, IF(seq <= 200, seq, 201 + seq % 200), seq FROM seq_1_to_$ROWS;
CREATE TABLE c (id INT PRIMARY KEY, tid INT NOT NULL, note VARCHAR(20),
	CONSTRAINT c_t FOREIGN KEY (tid) REFERENCES t (id)
	ON DELETE CASCADE ON UPDATE CASCADE) ENGINE=InnoDB;
INSERT INTO c SELECT seq, seq, 'c' FROM seq_1_to_$((ROWS / 2));
CREATE TABLE cn (id INT PRIMARY KEY, tid INT, KEY (tid),
	CONSTRAINT cn_t FOREIGN KEY (tid) REFERENCES t (id) ON DELETE SET NULL)
	ENGINE=InnoDB;
INSERT INTO cn SELECT seq, seq FROM seq_1_to_$((ROWS / 4));
CREATE TABLE t_mirror (id INT PRIMARY KEY, pid INT NOT NULL, v INT NOT NULL) ENGINE=InnoDB;
INSERT INTO t_mirror SELECT * FROM t;
CREATE TABLE c_mirror (id INT PRIMARY KEY, tid INT NOT NULL, note VARCHAR(20)) ENGINE=InnoDB;
INSERT INTO c_mirror SELECT * FROM c;
CREATE TABLE fails (n INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(10), errno INT,
	msg TEXT) ENGINE=InnoDB;
DELIMITER //
CREATE PROCEDURE tx(what VARCHAR(10), a INT, b INT)
BEGIN
	DECLARE no INT DEFAULT 0;
	DECLARE msg TEXT;
	DECLARE EXIT HANDLER FOR SQLEXCEPTION
	BEGIN
		GET DIAGNOSTICS CONDITION 1 no = MYSQL_ERRNO, msg = MESSAGE_TEXT;
		ROLLBACK;
		INSERT INTO fails (what, errno, msg) VALUES (what, no, msg);
	END;
	START TRANSACTION;
	CASE what
	WHEN 't_ins' THEN
		INSERT INTO t (id, pid, v) VALUES (a, b, a);
		INSERT INTO t_mirror (id, pid, v) VALUES (a, b, a);
	WHEN 't_upd' THEN
		UPDATE t SET v = v + 1 WHERE id = a;
		UPDATE t_mirror SET v = v + 1 WHERE id = a;
	WHEN 't_key' THEN
		UPDATE t SET id = b WHERE id = a;
		UPDATE t_mirror SET id = b WHERE id = a;
		UPDATE c_mirror SET tid = b WHERE tid = a;
	WHEN 't_del' THEN
		DELETE FROM t WHERE id = a;
		DELETE FROM t_mirror WHERE id = a;
		DELETE FROM c_mirror WHERE tid = a;
	WHEN 'c_ins' THEN
		INSERT INTO c SELECT a, id, 'new' FROM t WHERE id = b;
		INSERT INTO c_mirror SELECT * FROM c WHERE id = a;
	WHEN 'c_upd' THEN
		UPDATE c SET note = CONCAT('u', a) WHERE id = a;
		UPDATE c_mirror SET note = CONCAT('u', a) WHERE id = a;
	WHEN 'c_del' THEN
		DELETE FROM c WHERE id = a;
		DELETE FROM c_mirror WHERE id = a;
	WHEN 'p_ins' THEN
		INSERT INTO p VALUES (a);
	WHEN 'p_del' THEN
		DELETE FROM p WHERE id = a;
	WHEN 'p_ref' THEN
		DELETE FROM p WHERE id = a;
	END CASE;
	COMMIT;
END//
DELIMITER ;
EOF

fks()
{
	my_sql "SELECT r.constraint_name, r.table_name, r.referenced_table_name,
	    r.update_rule, r.delete_rule, GROUP_CONCAT(k.column_name, '>',
	    k.referenced_column_name ORDER BY k.ordinal_position)
	    FROM information_schema.referential_constraints r
	    JOIN information_schema.key_column_usage k
	      ON k.constraint_schema = r.constraint_schema
	     AND k.constraint_name = r.constraint_name AND k.table_name = r.table_name
	    WHERE r.constraint_schema = DATABASE()
	    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2"
}
fks >"$T_TMP/fks.before"
[ "$(wc -l <"$T_TMP/fks.before")" = 3 ] || fail "setup: three foreign keys"

# The dry run names the keys both ways among its warnings, and changes
# nothing (the keys are those before).
run_shade --dsn "$MY_DSN" --table t --dry-run --log-format json --alter 'ADD COLUMN note2 INT'
assert_rc 0 "dry run"
tail -n 1 "$SHADE_OUT" | jq -e '(.warnings | map(select(test("has 1 foreign key to other tables \\(t_p -> "))) | length) == 1
    and (.warnings | map(select(test("^2 foreign keys of other tables reference .*c_t.*cn_t|^2 foreign keys of other tables reference .*cn_t.*c_t"))) | length) == 1' \
    >/dev/null || fail "dry run: the foreign-key warnings: $(tail -n 1 "$SHADE_OUT" | jq -c .warnings)"
fks >"$T_TMP/fks.dry"
assert_same_file "$T_TMP/fks.before" "$T_TMP/fks.dry" "the dry run changed no key"

# load NAME SEED: write with its procedure calls until $T_TMP/stop exists.
load()
{
	_name=$1 _seed=$2 _round=0
	while [ ! -e "$T_TMP/stop" ]; do
		_round=$((_round + 1))
		awk -v name="$_name" -v seed="$_seed$_round" -v rows="$ROWS" -v r="$_round" '
		BEGIN {
			srand(seed)
			for (i = 0; i < 100; i++) {
				k = 201 + int(rand() * (rows - 200))
				fresh = rows * 10 + (seed % 1000) * 100000 + i
				if (name == "t") {
					x = rand()
					if (x < 0.3) printf "CALL tx(\"t_ins\", %d, %d);\n", fresh, 201 + int(rand() * 200)
					else if (x < 0.6) printf "CALL tx(\"t_upd\", %d, 0);\n", k
					else if (x < 0.75) printf "CALL tx(\"t_key\", %d, %d);\n", k, fresh + 50
					else printf "CALL tx(\"t_del\", %d, 0);\n", k
				} else if (name == "c") {
					x = rand()
					if (x < 0.5) printf "CALL tx(\"c_ins\", %d, %d);\n", fresh, k
					else if (x < 0.8) printf "CALL tx(\"c_upd\", %d, 0);\n", int(rand() * rows / 2) + 1
					else printf "CALL tx(\"c_del\", %d, 0);\n", int(rand() * rows / 2) + 1
				} else {
					if (i % 3 == 0) printf "CALL tx(\"p_ref\", %d, 0);\n", 1 + int(rand() * 200)
					else if (i % 3 == 1) printf "CALL tx(\"p_ins\", %d, 0);\n", fresh
					else printf "CALL tx(\"p_del\", %d, 0);\n", fresh - 1
				}
			}
		}' | my_client -D "$MY_DB" >>"$T_TMP/load.$_name.out" 2>&1 ||
		    echo "round $_round: client failed" >>"$T_TMP/load.$_name.err"
	done
}

start_loads()
{
	rm -f "$T_TMP/stop"
	for l in t c p; do
		load "$l" "$1$(printf %s "$l" | od -An -tu1 | tr -d ' ')" &
		bg_track $!
		eval "LOAD_$l=\$!"
	done
}

stop_loads()
{
	: >"$T_TMP/stop"
	# shellcheck disable=SC2154
	wait "$LOAD_t" "$LOAD_c" "$LOAD_p" || true
	for l in t c p; do
		[ ! -s "$T_TMP/load.$l.err" ] || fail "load $l: $(head -n 3 "$T_TMP/load.$l.err")"
	done
}

# wait_log TEXT WHAT: until shade's stderr says TEXT (or shade ends).
wait_log()
{
	_i=0
	until grep -q "$1" "$SHADE_ERR"; do
		kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "$2: shade ended early"; }
		_i=$((_i + 1))
		[ "$_i" -lt 2400 ] || fail "$2: shade did not get there in 240 s"
		sleep 0.1
	done
}

check_rows()
{
	_what=$1
	my_same_rows t t_mirror "id, pid, v" "$_what: t equals its mirror"
	my_same_rows c c_mirror "id, tid, note" "$_what: c equals its mirror"
	assert_eq "$(my_val "SELECT COUNT(*) FROM cn LEFT JOIN t ON t.id = cn.tid
	    WHERE cn.tid IS NOT NULL AND t.id IS NULL")" 0 "$_what: cn references only rows of t"
}

# check_keys WHAT: the keys as before, nothing of shade left.
check_keys()
{
	fks >"$T_TMP/fks.after"
	assert_same_file "$T_TMP/fks.before" "$T_TMP/fks.after" "$1: the foreign keys"
	assert_eq "$(my_val "SELECT COUNT(*) FROM information_schema.referential_constraints
	    WHERE constraint_schema = DATABASE()
	      AND (referenced_table_name LIKE '\\_t\\_%' OR table_name LIKE '\\_t\\_%'
	           OR constraint_name LIKE '%shade%')")" 0 "$1: no key on or to shade's tables"
	assert_eq "$(my_leftovers t)" "" "$1: no leftovers"
}

# -- 1-3. under load ---------------------------------------------------------
# The loads start once the capture triggers exist (MariaDB's MDEV-26048:
# a statement straddling the creation of a table's first trigger can fail
# with "Table ... doesn't exist"; see the README): shade holds its copy
# until then, and its swap until the loads have run through catch-up.
: >"$T_TMP/postpone"
: >"$T_TMP/throttle"
start_shade --dsn "$MY_DSN" --table t --execute --chunk-time 0.02 \
    --alter 'ADD COLUMN w INT NOT NULL DEFAULT 5, MODIFY v BIGINT NOT NULL' \
    --postpone-flag-file "$T_TMP/postpone" --throttle-flag-file "$T_TMP/throttle"
wait_log throttled "1"
start_loads 1
sleep 1
rm -f "$T_TMP/throttle"
wait_log postponed "1"
sleep 3
rm -f "$T_TMP/postpone"
wait_shade
assert_eq "$SHADE_RC" 0 "1: shade exit status"
sleep 2    # writes to the new t and its children
stop_loads
assert_eq "$(my_val "SELECT data_type FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 't' AND column_name = 'v'")" bigint \
    "1: the new schema"
check_rows 1
note "1: $(my_val "SELECT COUNT(*) FROM t") rows in t, $(my_val "SELECT COUNT(*) FROM c") in c; failures: $(my_val "SELECT GROUP_CONCAT(CONCAT(what, ':', errno, 'x', n)) FROM (SELECT what, errno, COUNT(*) n FROM fails GROUP BY 1, 2) f")"
# (cn's key restricts a key update of t's rows it references: 1451 there.)
my_val "SELECT what, errno, msg FROM fails WHERE errno NOT IN (1062, 1213, 1205)
    AND NOT (errno = 1451 AND what IN ('p_ref', 't_key')) LIMIT 10" >"$T_TMP/unexpected"
[ ! -s "$T_TMP/unexpected" ] || fail "1: unexpected failures: $(cat "$T_TMP/unexpected")"
assert_eq "$(my_val "SELECT COUNT(*) FROM p WHERE id <= 200")" 200 "1: referenced parents stay"
[ "$(my_val "SELECT COUNT(*) FROM fails WHERE what = 'p_ref' AND errno = 1451")" -gt 0 ] ||
    fail "1: deleting a referenced parent was refused"
[ "$(my_val "SELECT COUNT(*) FROM c WHERE note = 'new'")" -gt 0 ] ||
    fail "1: the child load inserted rows"
check_keys 2
assert_eq "$(my_val "SELECT COUNT(*) FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = '_t_old'")" 1 "2: the old table is kept"

# 3. the keys work on the new table.
my_sql "INSERT INTO t (id, pid, v) VALUES (-1, 1, 0), (-2, 1, 0);
    INSERT INTO c VALUES (-1, -1, 'x'), (-2, -2, 'x'); INSERT INTO cn VALUES (-1, -1);
    DELETE FROM t WHERE id = -1; UPDATE t SET id = -3 WHERE id = -2"
assert_eq "$(my_val "SELECT COUNT(*) FROM c WHERE id = -1")" 0 "3: a delete cascades to c"
assert_eq "$(my_val "SELECT IFNULL(tid, 'NULL') FROM cn WHERE id = -1")" NULL "3: SET NULL on cn"
assert_eq "$(my_val "SELECT tid FROM c WHERE id = -2")" -3 "3: a key update cascades to c"
out=$(my_try "INSERT INTO c VALUES (-9, -999, 'x')") && fail "3: an orphan child was accepted"
assert_contains_text() { case $1 in *"$2"*) ;; *) fail "$3: '$2' not in: $1" ;; esac; }
assert_contains_text "$out" 1452 "3: an orphan child"
out=$(my_try "INSERT INTO t (id, pid, v) VALUES (-9, 999999, 0)") && fail "3: t without parent"
assert_contains_text "$out" 1452 "3: a row of t without its parent"
out=$(my_try "DELETE FROM p WHERE id = 1") && fail "3: a referenced parent was deleted"
assert_contains_text "$out" 1451 "3: a referenced parent"
my_sql "DELETE FROM c WHERE id < 0; DELETE FROM cn WHERE id < 0; DELETE FROM t WHERE id < 0"

# -- 4. --drop-old --------------------------------------------------------------
my_sql "DROP TABLE _t_old"
run_shade --dsn "$MY_DSN" --table t --execute --drop-old --alter 'DROP COLUMN w'
assert_eq "$SHADE_RC" 0 "4: shade exit status"
assert_eq "$(my_val "SELECT COUNT(*) FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = '_t_old'")" 0 "4: the old table is dropped"
check_rows 4
check_keys 4

# -- 5. killed mid-copy, taken up -----------------------------------------------
# session_gone: the killed shade's sessions have ended (they hold locks).
sessions_gone()
{
	_i=0
	while [ "$(my_val "SELECT COUNT(*) FROM information_schema.processlist
	    WHERE db = '$MY_DB' AND id <> CONNECTION_ID() AND command <> 'Daemon'")" != 0 ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 300 ] || fail "$1: the killed shade's sessions did not end"
		sleep 0.1
	done
}
ALTER5='ADD COLUMN x INT'
: >"$T_TMP/throttle"
start_shade --dsn "$MY_DSN" --table t --execute --alter "$ALTER5" \
    --throttle-flag-file "$T_TMP/throttle"
wait_log throttled "5"
kill -9 "$SHADE_PID"
wait "$SHADE_PID" 2>/dev/null || true
sessions_gone 5
run_shade --dsn "$MY_DSN" --table t --execute --alter "$ALTER5"
assert_eq "$SHADE_RC" 0 "5: the resumed run's exit status"
assert_contains "$SHADE_ERR" resum "5: the run was taken up"
check_rows 5
check_keys 5
my_sql "DROP TABLE _t_old"

# -- 6. killed in its swap: the keys on the shadow ------------------------------
# by_hand_swap: as the swap leaves it after myeng_fk_to_shadow, c's key
# done, cn's half-way. (The shadow's key is on id, which its primary key
# indexes: mid-copy the shadow has no index on pid yet, and the server
# would make one.)
by_hand_swap()
{
	my_sql "SET SESSION foreign_key_checks = 0;
	    ALTER TABLE _t_new ADD CONSTRAINT _t_p_shade_fk FOREIGN KEY (id) REFERENCES p (id);
	    ALTER TABLE c DROP FOREIGN KEY c_t, ADD CONSTRAINT _c_t_shade_fk FOREIGN KEY (tid)
	      REFERENCES _t_new (id) ON DELETE CASCADE ON UPDATE CASCADE;
	    ALTER TABLE c DROP FOREIGN KEY _c_t_shade_fk, ADD CONSTRAINT c_t FOREIGN KEY (tid)
	      REFERENCES _t_new (id) ON DELETE CASCADE ON UPDATE CASCADE;
	    ALTER TABLE cn DROP FOREIGN KEY cn_t, ADD CONSTRAINT _cn_t_shade_fk FOREIGN KEY (tid)
	      REFERENCES _t_new (id) ON DELETE SET NULL"
}
ALTER6='MODIFY v BIGINT NOT NULL DEFAULT 1'
for how in resume cleanup; do
	: >"$T_TMP/throttle"
	start_shade --dsn "$MY_DSN" --table t --execute --alter "$ALTER6" \
	    --throttle-flag-file "$T_TMP/throttle"
	wait_log throttled "6 $how"
	kill -9 "$SHADE_PID"
	wait "$SHADE_PID" 2>/dev/null || true
	sessions_gone "6 $how"
	rm -f "$T_TMP/throttle"
	by_hand_swap
	assert_eq "$(my_val "SELECT COUNT(*) FROM information_schema.referential_constraints
	    WHERE constraint_schema = DATABASE() AND referenced_table_name = '_t_new'")" 2 \
	    "6 $how: the children's keys are on the shadow"
	if [ "$how" = resume ]; then
		run_shade --dsn "$MY_DSN" --table t --execute --alter "$ALTER6"
		assert_eq "$SHADE_RC" 0 "6 resume: exit status"
		assert_contains "$SHADE_ERR" resum "6 resume: the run was taken up"
		my_sql "DROP TABLE _t_old"
	else
		run_shade --dsn "$MY_DSN" --table t --cleanup
		assert_eq "$SHADE_RC" 0 "6 cleanup: exit status"
		assert_eq "$(my_val "SELECT COUNT(*) FROM information_schema.tables
		    WHERE table_schema = DATABASE() AND table_name LIKE '\\_t\\_%'")" 0 \
		    "6 cleanup: shade's tables are gone"
	fi
	check_rows "6 $how"
	check_keys "6 $how"
done

# -- 7. killed right after the RENAME: the key out of t under its temporary name --
my_sql "SET SESSION foreign_key_checks = 0;
    CREATE TABLE t_shade_cut LIKE t;
    ALTER TABLE t DROP FOREIGN KEY t_p, ADD CONSTRAINT _t_p_shade_fk FOREIGN KEY (pid)
      REFERENCES p (id);
    ALTER TABLE t_shade_cut ADD CONSTRAINT t_p FOREIGN KEY (pid) REFERENCES p (id)"
run_shade --dsn "$MY_DSN" --table t --execute --alter "$ALTER6"
assert_eq "$SHADE_RC" 2 "7: a run on the half-swapped table is refused"
assert_one_line "7: one line"
assert_contains "$SHADE_ERR" "--cleanup" "7: it names --cleanup"
run_shade --dsn "$MY_DSN" --table t --cleanup
assert_eq "$SHADE_RC" 0 "7: --cleanup exit status"
assert_eq "$(my_val "SELECT COUNT(*) FROM information_schema.referential_constraints
    WHERE constraint_schema = DATABASE() AND table_name = '_t_old'")" 0 \
    "7: the old table's key is gone"
my_sql "DROP TABLE _t_old"
check_keys 7
t_pass
