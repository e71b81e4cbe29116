/*
 * test_keyval.c - a key value as one string and back, for the state an
 * interrupted run leaves: every value survives the round trip, whatever
 * bytes it holds (':', digits, the empty string), and text that encode did
 * not write is refused, never half read.
 */
#include <string.h>

#include "keyval.h"
#include "util.h"
#include "unit.h"

static void
roundtrip(size_t n, const char *const *vals)
{
	struct keyval k = {0}, back = {0};
	char *text;

	k.n = n;
	k.vals = xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		k.vals[i] = xstrdup(vals[i]);
	text = keyval_encode(&k);
	UNIT_CASE("round trip of %zu values: %s", n, text);
	CHECK(keyval_decode(text, &back) == 0);
	CHECK(back.n == n);
	for (size_t i = 0; i < n && i < back.n; i++)
		CHECK_STREQ(back.vals[i], vals[i]);
	free(text);
	keyval_free(&k);
	keyval_free(&back);
}

static void
test_roundtrip(void)
{
	static const char *const one[] = {"42"};
	static const char *const odd[] = {"3:abc", "", "12:", "ü ,;\"'\\"};
	static const char *const ctid[] = {"(123,0)"};

	roundtrip(0, NULL);
	roundtrip(1, one);
	roundtrip(4, odd);
	roundtrip(1, ctid);
}

static void
test_bad(void)
{
	static const char *const bad[] = {"x", "3", "3:ab", "2:abc:", "-1:", "1;a",
					  "99999999999999999999999:a"};
	struct keyval k = {0};

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		UNIT_CASE("refused: %s", bad[i]);
		CHECK(keyval_decode(bad[i], &k) == -1);
		CHECK(k.n == 0);
	}
}

int
main(void)
{
	UNIT_RUN(test_roundtrip);
	UNIT_RUN(test_bad);
	return unit_done();
}
