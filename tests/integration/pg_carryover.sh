#!/bin/sh
# pg_carryover.sh - what belongs to the table survives the swap (DESIGN.md,
# "What the swap must carry over", PostgreSQL). One small table per feature,
# each migrated on its own (ADD COLUMN flag int NOT NULL DEFAULT 0), so one
# run lists every feature that is missing, and a feature shade refuses
# (exit 2) does not hide the others:
#   keys       index and constraint names, a partial and an expression
#              index, CHECK, UNIQUE, defaults
#   sequence   a bigserial's sequence: ownership and position
#   meta       comments, owner, grants, statistics target, storage parameter
#   fk_out     a foreign key out of the table
#   fk_in      a foreign key into the table: points at the new table,
#              validated, enforced
#   trigger    a user trigger (and its function) on the table
#   rls        row-level security and a policy
#   replident  replica identity using an index
#   pub        publication membership
#   view       a dependent view reads the new table
# Each case also checks the rows and that shade left nothing of its own.
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb

# Roles are cluster-wide: the server may be shared with other tests.
pg_sql >/dev/null <<'EOF'
DO $$
BEGIN
	CREATE ROLE shade_reader;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
DO $$
BEGIN
	CREATE ROLE shade_owner;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
CREATE TABLE parent (id int PRIMARY KEY);
INSERT INTO parent SELECT generate_series(1, 100);
EOF

# base T: the table every case starts from, and a snapshot T_snap.
base()
{
	pg_sql "CREATE TABLE $1 (
		id bigserial CONSTRAINT ${1}_pk PRIMARY KEY,
		parent_id int NOT NULL,
		sku text NOT NULL DEFAULT 'none',
		qty int NOT NULL DEFAULT 0,
		note text
	);
	INSERT INTO $1 (parent_id, sku, qty, note)
	SELECT g % 100 + 1, 'SKU-' || g, g % 50,
	       CASE WHEN g % 2 = 0 THEN 'n' || g END
	FROM generate_series(1, 3000) g"
}

snap()
{
	pg_sql "CREATE TABLE ${1}_snap AS SELECT * FROM $1"
}

# q WHAT SQL WANT: the query must return WANT.
q()
{
	assert_eq "$(pg_val "$2")" "$3" "$1"
}

# The migration every case runs, and what every case checks after it.
migrate()
{
	run_shade --dsn "$PG_DSN" --table "$1" --execute --chunk-time 0.05 \
	    --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0'
	assert_rc 0 "$1: migration"
	pg_same_rows "$1" "${1}_snap" 'id, parent_id, sku, qty, note' "$1"
	q "$1: flag added" "SELECT count(*) FROM pg_attribute
	    WHERE attrelid = '$1'::regclass AND attname = 'flag'" 1
	q "$1: shadow and change log gone" "SELECT count(*) FROM pg_class
	    WHERE relname IN ('_${1}_new', '_${1}_log')" 0
	q "$1: _${1}_old kept" "SELECT to_regclass('_${1}_old') IS NOT NULL" t
	q "$1: no trigger of shade's left" "SELECT count(*) FROM pg_trigger
	    WHERE NOT tgisinternal AND tgname <> 'user_trg'" 0
	q "$1: no function of shade's left" "SELECT count(*) FROM pg_proc
	    WHERE pronamespace = 'public'::regnamespace AND proname <> 'touch'" 0
}

# Does statement SQL fail? (for constraints that must still be enforced)
rejects()
{
	if pg_try "$1" >/dev/null; then
		fail "$2: accepted: $1"
	fi
}

case_keys()
{
	base c_keys
	pg_sql "ALTER TABLE c_keys ADD CONSTRAINT c_keys_qty_check CHECK (qty >= 0),
	    ADD CONSTRAINT c_keys_sku_key UNIQUE (sku);
	    CREATE INDEX c_keys_note_idx ON c_keys (note) WHERE note IS NOT NULL;
	    CREATE INDEX c_keys_lower_idx ON c_keys (lower(sku), qty DESC)"
	snap c_keys
	migrate c_keys
	q "constraints" "SELECT string_agg(conname || ' ' ||
	    pg_get_constraintdef(oid), '; ' ORDER BY conname) FROM pg_constraint
	    WHERE conrelid = 'c_keys'::regclass" \
	    "c_keys_pk PRIMARY KEY (id); c_keys_qty_check CHECK ((qty >= 0)); c_keys_sku_key UNIQUE (sku)"
	q "indexes" "SELECT string_agg(pg_get_indexdef(indexrelid), '; '
	    ORDER BY indexrelid::regclass::text) FROM pg_index
	    WHERE indrelid = 'c_keys'::regclass" \
	    "CREATE INDEX c_keys_lower_idx ON public.c_keys USING btree (lower(sku), qty DESC); CREATE INDEX c_keys_note_idx ON public.c_keys USING btree (note) WHERE (note IS NOT NULL); CREATE UNIQUE INDEX c_keys_pk ON public.c_keys USING btree (id); CREATE UNIQUE INDEX c_keys_sku_key ON public.c_keys USING btree (sku)"
	q "defaults" "SELECT string_agg(a.attname || '=' ||
	    pg_get_expr(d.adbin, d.adrelid), ', ' ORDER BY a.attnum)
	    FROM pg_attrdef d JOIN pg_attribute a
	      ON a.attrelid = d.adrelid AND a.attnum = d.adnum
	    WHERE d.adrelid = 'c_keys'::regclass" \
	    "id=nextval('c_keys_id_seq'::regclass), sku='none'::text, qty=0, flag=0"
	rejects "INSERT INTO c_keys (parent_id, sku, qty) VALUES (1, 'x', -1)" \
	    "CHECK enforced"
	rejects "INSERT INTO c_keys (parent_id, sku) VALUES (1, 'SKU-5')" \
	    "UNIQUE enforced"
}

case_sequence()
{
	base c_seq
	pg_sql "SELECT setval('c_seq_id_seq', 900000)" >/dev/null
	snap c_seq
	migrate c_seq
	q "owned by c_seq.id" "SELECT pg_get_serial_sequence('c_seq', 'id')" \
	    public.c_seq_id_seq
	q "position" "SELECT last_value FROM c_seq_id_seq" 900000
	q "continues" "INSERT INTO c_seq (parent_id) VALUES (1) RETURNING id" \
	    900001
}

case_meta()
{
	base c_meta
	pg_sql "COMMENT ON TABLE c_meta IS 'the items';
	    COMMENT ON COLUMN c_meta.sku IS 'stock keeping unit';
	    ALTER TABLE c_meta OWNER TO shade_owner;
	    GRANT SELECT, UPDATE (qty) ON c_meta TO shade_reader;
	    ALTER TABLE c_meta ALTER COLUMN note SET STATISTICS 500;
	    ALTER TABLE c_meta SET (fillfactor = 80)"
	snap c_meta
	migrate c_meta
	q "comment on the table" \
	    "SELECT obj_description('c_meta'::regclass, 'pg_class')" "the items"
	q "comment on a column" "SELECT col_description('c_meta'::regclass,
	    (SELECT attnum FROM pg_attribute WHERE attrelid = 'c_meta'::regclass
	     AND attname = 'sku'))" "stock keeping unit"
	q "owner" "SELECT relowner::regrole FROM pg_class
	    WHERE oid = 'c_meta'::regclass" shade_owner
	q "table grant" \
	    "SELECT has_table_privilege('shade_reader', 'c_meta', 'SELECT')" t
	q "column grant" "SELECT has_column_privilege('shade_reader', 'c_meta',
	    'qty', 'UPDATE')" t
	q "statistics target" "SELECT attstattarget FROM pg_attribute
	    WHERE attrelid = 'c_meta'::regclass AND attname = 'note'" 500
	q "storage parameter" "SELECT array_to_string(reloptions, ',')
	    FROM pg_class WHERE oid = 'c_meta'::regclass" fillfactor=80
}

case_fk_out()
{
	base c_fkout
	pg_sql "ALTER TABLE c_fkout ADD CONSTRAINT c_fkout_parent_fk
	    FOREIGN KEY (parent_id) REFERENCES parent (id)"
	snap c_fkout
	migrate c_fkout
	q "foreign key" "SELECT pg_get_constraintdef(oid) || ' ' || convalidated
	    FROM pg_constraint WHERE conrelid = 'c_fkout'::regclass
	      AND conname = 'c_fkout_parent_fk'" \
	    "FOREIGN KEY (parent_id) REFERENCES parent(id) true"
	rejects "INSERT INTO c_fkout (parent_id) VALUES (999)" "foreign key enforced"
}

case_fk_in()
{
	base c_fkin
	pg_sql "CREATE TABLE c_fkin_child (id int PRIMARY KEY,
	        item_id bigint CONSTRAINT c_fkin_child_fk REFERENCES c_fkin (id));
	    INSERT INTO c_fkin_child SELECT g, g * 3 FROM generate_series(1, 500) g"
	snap c_fkin
	migrate c_fkin
	q "points at the new table" "SELECT confrelid::regclass || ' ' ||
	    convalidated FROM pg_constraint WHERE conname = 'c_fkin_child_fk'" \
	    "c_fkin true"
	q "nothing points at the old table" "SELECT count(*) FROM pg_constraint
	    WHERE confrelid = to_regclass('_c_fkin_old')" 0
	rejects "DELETE FROM c_fkin WHERE id = 3" "foreign key enforced"
}

case_trigger()
{
	base c_trg
	pg_sql "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS \$\$
	    BEGIN
		NEW.note := coalesce(NEW.note, '') || '+';
		RETURN NEW;
	    END \$\$;
	    CREATE TRIGGER user_trg BEFORE UPDATE ON c_trg
		FOR EACH ROW EXECUTE FUNCTION touch()"
	snap c_trg
	migrate c_trg
	q "user trigger" "SELECT tgenabled FROM pg_trigger
	    WHERE tgrelid = 'c_trg'::regclass AND tgname = 'user_trg'" O
	q "it fires" "UPDATE c_trg SET qty = qty WHERE id = 2 RETURNING note" \
	    "n2+"
	q "not also on the old table" "SELECT count(*) FROM pg_trigger
	    WHERE tgrelid = to_regclass('_c_trg_old') AND NOT tgisinternal" 0
}

case_rls()
{
	base c_rls
	pg_sql "ALTER TABLE c_rls ENABLE ROW LEVEL SECURITY;
	    CREATE POLICY c_rls_pol ON c_rls FOR SELECT TO shade_reader
		USING (qty >= 10)"
	snap c_rls
	migrate c_rls
	q "row-level security" "SELECT relrowsecurity FROM pg_class
	    WHERE oid = 'c_rls'::regclass" t
	q "policy" "SELECT polname || ' ' || pg_get_expr(polqual, polrelid)
	    FROM pg_policy WHERE polrelid = 'c_rls'::regclass" \
	    "c_rls_pol (qty >= 10)"
}

case_replident()
{
	base c_ri
	pg_sql "ALTER TABLE c_ri ADD CONSTRAINT c_ri_sku_key UNIQUE (sku);
	    ALTER TABLE c_ri REPLICA IDENTITY USING INDEX c_ri_sku_key"
	snap c_ri
	migrate c_ri
	q "replica identity" "SELECT c.relreplident::text || ' ' ||
	    i.indexrelid::regclass FROM pg_class c
	    JOIN pg_index i ON i.indrelid = c.oid AND i.indisreplident
	    WHERE c.oid = 'c_ri'::regclass" "i c_ri_sku_key"
}

case_pub()
{
	base c_pub
	pg_sql "CREATE PUBLICATION c_pub_pub FOR TABLE c_pub"
	snap c_pub
	migrate c_pub
	q "publication" "SELECT string_agg(pubname, ',') FROM pg_publication_tables
	    WHERE schemaname = 'public' AND tablename = 'c_pub'" c_pub_pub
}

case_view()
{
	base c_view
	pg_sql "CREATE VIEW c_view_v AS SELECT id, sku FROM c_view WHERE qty > 5"
	snap c_view
	migrate c_view
	q "the view reads the new table" "SELECT count(*) > 0
	    FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
	    WHERE r.ev_class = 'c_view_v'::regclass
	      AND d.refobjid = 'c_view'::regclass" t
	q "the view's rows" "SELECT count(*) FROM c_view_v" \
	    "$(pg_val "SELECT count(*) FROM c_view WHERE qty > 5")"
}

for c in keys sequence meta fk_out fk_in trigger rls replident pub view; do
	t_check "$c" "case_$c"
done

t_done
