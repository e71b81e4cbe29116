#!/bin/sh
# mysql_refuse.sh - bad input is refused with exit 2, one line on stderr, and
# the database left exactly as it was (catalog and data fingerprint): a
# table without a primary key, a MyISAM table, an unknown table, SQL pasted
# as a table name, an ALTER the server rejects on the shadow (MariaDB's own
# message shown), a second statement after the ALTER (also one hidden in an
# executable comment, which only the server would see; were one to slip
# through, multi-statements are off and the server calls it a syntax
# error), an ALTER that would leave InnoDB, a change of the key column's
# type that may make two keys one and a new NOT NULL json column without
# a DEFAULT (both in a run and in a dry run), leftovers of an earlier run,
# foreign keys shade cannot carry over (one out of the table with an ON
# DELETE or ON UPDATE action, whose changes fire no triggers; one of a
# table to itself, or between two tables both ways; an ALTER that adds or
# drops one, or changes a column one uses); and passwords: from the DSN
# (never printed), MYSQL_PWD and ~/.my.cnf.
set -eu
. "$(dirname "$0")/../lib.sh"

my_start
my_newdb

my_sql <<'EOF'
CREATE TABLE items (id INT PRIMARY KEY, sku VARCHAR(40) NOT NULL, qty INT,
	KEY items_sku_idx (sku)) ENGINE=InnoDB;
INSERT INTO items SELECT seq, CONCAT('SKU-', seq), seq % 100 FROM seq_1_to_1000;
CREATE TABLE nopk (x INT, y TEXT) ENGINE=InnoDB;
INSERT INTO nopk SELECT seq, CONCAT('y', seq) FROM seq_1_to_100;
CREATE TABLE old_engine (id INT PRIMARY KEY, v INT) ENGINE=MyISAM;
INSERT INTO old_engine SELECT seq, seq FROM seq_1_to_100;
CREATE TABLE x (a INT) ENGINE=InnoDB;
CREATE TABLE parent (id INT PRIMARY KEY) ENGINE=InnoDB;
CREATE TABLE child (id INT PRIMARY KEY, parent_id INT,
	CONSTRAINT child_parent_fk FOREIGN KEY (parent_id) REFERENCES parent (id))
	ENGINE=InnoDB;
CREATE TABLE cascading (id INT PRIMARY KEY, parent_id INT,
	CONSTRAINT cascading_parent_fk FOREIGN KEY (parent_id) REFERENCES parent (id)
	ON DELETE CASCADE) ENGINE=InnoDB;
CREATE TABLE nulling (id INT PRIMARY KEY, parent_id INT,
	CONSTRAINT nulling_parent_fk FOREIGN KEY (parent_id) REFERENCES parent (id)
	ON UPDATE SET NULL) ENGINE=InnoDB;
CREATE TABLE tree (id INT PRIMARY KEY, up INT,
	CONSTRAINT tree_up_fk FOREIGN KEY (up) REFERENCES tree (id)) ENGINE=InnoDB;
CREATE TABLE ma (id INT PRIMARY KEY, mb_id INT, KEY (mb_id)) ENGINE=InnoDB;
CREATE TABLE mb (id INT PRIMARY KEY, ma_id INT,
	CONSTRAINT mb_ma_fk FOREIGN KEY (ma_id) REFERENCES ma (id)) ENGINE=InnoDB;
ALTER TABLE ma ADD CONSTRAINT ma_mb_fk FOREIGN KEY (mb_id) REFERENCES mb (id);
INSERT INTO parent SELECT seq FROM seq_1_to_10;
INSERT INTO child SELECT seq, seq FROM seq_1_to_10;
INSERT INTO cascading SELECT seq, seq FROM seq_1_to_10;
EOF

my_fingerprint >"$T_TMP/before"

# refuse NAME ARGS...: shade must exit 2 with one line and change nothing.
refuse()
{
	_what=$1
	shift
	run_shade "$@"
	assert_rc 2 "$_what"
	assert_one_line "$_what"
	my_fingerprint >"$T_TMP/after"
	assert_same_file "$T_TMP/before" "$T_TMP/after" \
	    "$_what: the database changed"
}

refuse "no primary key" --dsn "$MY_DSN" --table nopk \
    --alter 'ADD COLUMN z INT' --execute
assert_contains "$SHADE_ERR" "no primary key" "no primary key: the reason"
refuse "MyISAM table" --dsn "$MY_DSN" --table old_engine \
    --alter 'ADD COLUMN z INT' --execute
assert_contains "$SHADE_ERR" "MyISAM" "MyISAM table: the reason"
refuse "unknown table" --dsn "$MY_DSN" --table nosuch \
    --alter 'ADD COLUMN z INT' --execute
assert_contains "$SHADE_ERR" "unknown table" "unknown table: the reason"
refuse "unknown database" --dsn "$MY_DSN" --table nosuchdb.items \
    --alter 'ADD COLUMN z INT' --execute
refuse "table name in another case" --dsn "$MY_DSN" --table ITEMS \
    --alter 'ADD COLUMN z INT' --execute
refuse "SQL as a table name" --dsn "$MY_DSN" --table 'items; DROP TABLE x' \
    --alter 'ADD COLUMN z INT' --execute
refuse "backquote in a table name" --dsn "$MY_DSN" \
    --table 'items`; DROP TABLE x; --' --alter 'ADD COLUMN z INT' --execute

refuse "ALTER the server rejects" --dsn "$MY_DSN" --table items \
    --alter 'MODIFY nosuch INT' --execute
assert_contains "$SHADE_ERR" "Unknown column 'nosuch'" \
    "ALTER the server rejects: MariaDB's message"
refuse "ALTER with a bad type" --dsn "$MY_DSN" --table items \
    --alter 'ADD COLUMN z nosuchtype' --execute
assert_contains "$SHADE_ERR" "nosuchtype" \
    "ALTER with a bad type: MariaDB's message"
refuse "ALTER changing the primary key" --dsn "$MY_DSN" --table items \
    --alter 'DROP PRIMARY KEY, ADD PRIMARY KEY (sku)' --execute
assert_contains "$SHADE_ERR" "primary key" "changing the primary key: the reason"
for mode in --execute --dry-run; do
	refuse "narrowing the key ($mode)" --dsn "$MY_DSN" --table items \
	    --alter 'MODIFY id SMALLINT NOT NULL' $mode
	assert_contains "$SHADE_ERR" "primary-key column id of" \
	    "narrowing the key ($mode): the reason"
	refuse "NOT NULL json without DEFAULT ($mode)" --dsn "$MY_DSN" \
	    --table items --alter 'ADD COLUMN j JSON NOT NULL' $mode
	assert_contains "$SHADE_ERR" "CHECK constraint" \
	    "NOT NULL json without DEFAULT ($mode): the reason"
done
refuse "ALTER to another engine" --dsn "$MY_DSN" --table items \
    --alter 'ENGINE=MyISAM' --execute

refuse "a second statement" --dsn "$MY_DSN" --table items \
    --alter 'ADD COLUMN a INT; DROP TABLE x' --execute
refuse "a second statement in an executable comment" --dsn "$MY_DSN" \
    --table items --alter 'ADD COLUMN a INT /*!; DROP TABLE x */' --execute
assert_contains "$SHADE_ERR" "executable comment" \
    "a second statement in an executable comment: the reason"
refuse "an empty ALTER" --dsn "$MY_DSN" --table items --alter '' --execute
refuse "renaming the table" --dsn "$MY_DSN" --table items \
    --alter 'RENAME TO other' --execute

refuse "a foreign key out ON DELETE CASCADE" --dsn "$MY_DSN" --table cascading \
    --alter 'ADD COLUMN z INT' --execute
assert_contains "$SHADE_ERR" "cascading_parent_fk" "a foreign key out ON DELETE CASCADE: its name"
assert_contains "$SHADE_ERR" "fire no triggers" "a foreign key out ON DELETE CASCADE: why"
refuse "a foreign key out ON UPDATE SET NULL" --dsn "$MY_DSN" --table nulling \
    --alter 'ADD COLUMN z INT' --dry-run
assert_contains "$SHADE_ERR" "ON UPDATE SET NULL" "a foreign key out ON UPDATE SET NULL: why"
refuse "a foreign key to itself" --dsn "$MY_DSN" --table tree \
    --alter 'ADD COLUMN z INT' --execute
assert_contains "$SHADE_ERR" "tree_up_fk" "a foreign key to itself: its name"
refuse "tables that reference each other" --dsn "$MY_DSN" --table ma \
    --alter 'ADD COLUMN z INT' --execute
assert_contains "$SHADE_ERR" "reference each other" "tables that reference each other: why"
refuse "an ALTER that adds a foreign key" --dsn "$MY_DSN" --table items \
    --alter 'ADD CONSTRAINT items_fk FOREIGN KEY (qty) REFERENCES parent (id)' --execute
assert_contains "$SHADE_ERR" "adds a foreign key" "an ALTER that adds a foreign key: why"
refuse "an ALTER that drops a foreign key" --dsn "$MY_DSN" --table child \
    --alter 'DROP FOREIGN KEY child_parent_fk' --execute
assert_contains "$SHADE_ERR" "refuses an ALTER that drops one" \
    "an ALTER that drops a foreign key: why"
refuse "an ALTER that changes a referenced column" --dsn "$MY_DSN" --table parent \
    --alter 'MODIFY id BIGINT' --execute
assert_contains "$SHADE_ERR" "column id of" "a referenced column: which"
refuse "an ALTER that drops a key's index" --dsn "$MY_DSN" --table child \
    --alter 'DROP INDEX child_parent_fk' --execute
assert_contains "$SHADE_ERR" "no index" "a key's index: why"

# Leftovers of an earlier run, each alone.
for obj in _items_new _items_log _items_old items_shade_cut; do
	my_sql "CREATE TABLE \`$obj\` (id INT) ENGINE=InnoDB"
	my_fingerprint >"$T_TMP/before"
	refuse "leftover $obj" --dsn "$MY_DSN" --table items \
	    --alter 'ADD COLUMN z INT' --execute
	assert_contains "$SHADE_ERR" "$obj" "leftover $obj: named"
	my_sql "DROP TABLE \`$obj\`"
done
my_sql "CREATE TABLE _items_log (id INT) ENGINE=InnoDB;
    CREATE TRIGGER _items_shade_upd AFTER UPDATE ON items FOR EACH ROW
    INSERT INTO _items_log VALUES (NEW.id);
    DROP TABLE _items_log"
my_fingerprint >"$T_TMP/before"
refuse "leftover trigger" --dsn "$MY_DSN" --table items \
    --alter 'ADD COLUMN z INT' --execute
assert_contains "$SHADE_ERR" "_items_shade_upd" "leftover trigger: named"
my_sql "DROP TRIGGER _items_shade_upd"
my_fingerprint >"$T_TMP/before"

# Passwords: in the DSN (never shown, not even in an error), from MYSQL_PWD
# and from ~/.my.cnf's [client] group. Exit 2 (unknown table) shows that
# shade got in.
my_client -e "CREATE OR REPLACE USER 'shade_refuse'@'localhost'
    IDENTIFIED BY 's3cr3t-pw';
    GRANT ALL ON \`$MY_DB\`.* TO 'shade_refuse'@'localhost'"
run_shade --dsn "mysql://shade_refuse:s3cr3t-pw@/$MY_DB?socket=$MY_SOCK" \
    --table nosuch --alter 'ADD COLUMN z INT' --execute --verbose
assert_rc 2 "password in the DSN"
if grep -q 's3cr3t-pw' "$SHADE_ERR" "$SHADE_OUT"; then
	fail "the password from the DSN was printed"
fi
# The environment only for shade: the test's own client must not see it.
real_bin=$SHADE_BIN
printf '#!/bin/sh\nMYSQL_PWD=s3cr3t-pw exec "%s" "$@"\n' "$real_bin" \
    >"$T_TMP/shade-pwd"
mkdir "$T_TMP/home"
printf '[client]\npassword=s3cr3t-pw\n' >"$T_TMP/home/.my.cnf"
chmod 600 "$T_TMP/home/.my.cnf"
printf '#!/bin/sh\nHOME="%s" exec "%s" "$@"\n' "$T_TMP/home" "$real_bin" \
    >"$T_TMP/shade-cnf"
chmod 755 "$T_TMP/shade-pwd" "$T_TMP/shade-cnf"
SHADE_BIN=$T_TMP/shade-pwd
refuse "password from MYSQL_PWD" \
    --dsn "mysql://shade_refuse@/$MY_DB?socket=$MY_SOCK" \
    --table nosuch --alter 'ADD COLUMN z INT' --execute
SHADE_BIN=$T_TMP/shade-cnf
refuse "password from ~/.my.cnf" \
    --dsn "mysql://shade_refuse@/$MY_DB?socket=$MY_SOCK" \
    --table nosuch --alter 'ADD COLUMN z INT' --execute
SHADE_BIN=$real_bin
run_shade --dsn "mysql://shade_refuse:wrong@/$MY_DB?socket=$MY_SOCK" \
    --table items --alter 'ADD COLUMN z INT' --execute
assert_rc 1 "a wrong password"
assert_contains "$SHADE_ERR" "Access denied" "a wrong password: the reason"
my_client -e "DROP USER 'shade_refuse'@'localhost'"

t_pass
