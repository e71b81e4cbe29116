#!/bin/sh
# bench/mysql_fk.sh - what re-pointing a child's foreign key costs at the
# swap (src/engine/mysql/fk.c), on a child of BENCH_FK_ROWS rows (default
# 1M) referencing a table t of BENCH_FK_PARENT rows (default 100k).
#
# Times, each the median of BENCH_REPEAT rounds (default 3):
#   repoint   the two ALTERs the swap runs on the child under its lock
#             (DROP FOREIGN KEY c_t, ADD CONSTRAINT _c_t_shade_fk ...
#             REFERENCES _t_new; then back to the name c_t), with
#             foreign_key_checks = 0: metadata only
#   checked   one such ALTER with foreign_key_checks = 1, which validates
#             every row of the child (what shade avoids), once
#   shade     a whole shade run on t (ADD COLUMN), with its swap's length
#             as its progress lines show it (1 s resolution)
# Prints the figures; never fails on a timing. Run: sh bench/mysql_fk.sh
set -eu
. "$(dirname "$0")/../tests/lib.sh"

ROWS=${BENCH_FK_ROWS:-1000000}
PARENT=${BENCH_FK_PARENT:-100000}
REPEAT=${BENCH_REPEAT:-5}

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

my_start
my_newdb bench_fk

my_sql <<EOF
CREATE TABLE t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;
INSERT INTO t SELECT seq, seq FROM seq_1_to_$PARENT;
CREATE TABLE c (id INT PRIMARY KEY, tid INT NOT NULL, pad CHAR(40) NOT NULL DEFAULT '',
	CONSTRAINT c_t FOREIGN KEY (tid) REFERENCES t (id) ON DELETE CASCADE) ENGINE=InnoDB;
INSERT INTO c SELECT seq, 1 + seq % $PARENT, 'x' FROM seq_1_to_$ROWS;
CREATE TABLE _t_new LIKE t;
INSERT INTO _t_new SELECT * FROM t;
ANALYZE TABLE c;
EOF

repoint()
{
	my_sql "SET SESSION foreign_key_checks = $1;
	    ALTER TABLE c DROP FOREIGN KEY c_t, ADD CONSTRAINT _c_t_shade_fk FOREIGN KEY (tid)
	      REFERENCES $2 (id) ON DELETE CASCADE;
	    ALTER TABLE c DROP FOREIGN KEY _c_t_shade_fk, ADD CONSTRAINT c_t FOREIGN KEY (tid)
	      REFERENCES $2 (id) ON DELETE CASCADE"
}

# The same two ALTERs on a child of 1000 rows: what does not grow with it.
my_sql "CREATE TABLE small LIKE c; INSERT INTO small SELECT * FROM c WHERE id <= 1000;
    SET SESSION foreign_key_checks = 0;
    ALTER TABLE small ADD CONSTRAINT small_t FOREIGN KEY (tid) REFERENCES t (id) ON DELETE CASCADE"
times=
for _r in $(seq "$REPEAT"); do
	s=$(now)
	my_sql "SET SESSION foreign_key_checks = 0;
	    ALTER TABLE small DROP FOREIGN KEY small_t, ADD CONSTRAINT _small_t_shade_fk
	      FOREIGN KEY (tid) REFERENCES _t_new (id) ON DELETE CASCADE;
	    ALTER TABLE small DROP FOREIGN KEY _small_t_shade_fk, ADD CONSTRAINT small_t
	      FOREIGN KEY (tid) REFERENCES t (id) ON DELETE CASCADE"
	e=$(now)
	times="$times $(sub "$s" "$e")"
done
# shellcheck disable=SC2086
echo "the same on a child of 1000 rows: $(median $times) s (rounds:$times)"
my_sql "DROP TABLE small"

times=
for _r in $(seq "$REPEAT"); do
	s=$(now)
	repoint 0 _t_new
	e=$(now)
	times="$times $(sub "$s" "$e")"
	repoint 0 t
done
# shellcheck disable=SC2086
echo "repoint (2 ALTERs, foreign_key_checks=0), child of $ROWS rows: $(median $times) s (rounds:$times)"

s=$(now)
my_sql "SET SESSION foreign_key_checks = 1;
    ALTER TABLE c DROP FOREIGN KEY c_t, ADD CONSTRAINT _c_t_shade_fk FOREIGN KEY (tid)
      REFERENCES _t_new (id) ON DELETE CASCADE"
e=$(now)
echo "one ALTER with foreign_key_checks=1 (validates every row): $(sub "$s" "$e") s"
my_sql "SET SESSION foreign_key_checks = 0;
    ALTER TABLE c DROP FOREIGN KEY _c_t_shade_fk, ADD CONSTRAINT c_t FOREIGN KEY (tid)
      REFERENCES t (id) ON DELETE CASCADE;
    DROP TABLE _t_new"

s=$(now)
run_shade --dsn "$MY_DSN" --table t --execute --drop-old --alter 'ADD COLUMN w INT'
e=$(now)
[ "$SHADE_RC" = 0 ] || fail "shade exited $SHADE_RC"
swap=$(sed -n 's/^shade: \[\([0-9]*\):\([0-9]*\):\([0-9]*\)\] \(swap\|cleanup\):.*/\1 \2 \3 \4/p' \
    "$SHADE_ERR" | awk '$4 == "swap" && s == "" { s = $1 * 3600 + $2 * 60 + $3 }
    $4 == "cleanup" && s != "" { print $1 * 3600 + $2 * 60 + $3 - s; exit }')
echo "shade on t ($PARENT rows, child of $ROWS rows): $(sub "$s" "$e") s in all, swap to cleanup ${swap:-?} s"
echo "child keys after: $(my_val "SELECT CONCAT(constraint_name, ' -> ', referenced_table_name)
    FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE()")"
t_pass
