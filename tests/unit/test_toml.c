/* Unit tests of the TOML-subset parser (kernel/lib/toml.c). Each test parses a document and
 * compares a transcript of the callbacks (tables, keys with typed values, errors with
 * their lines) with what TOML 1.0 and the Isthmus subset require. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/lib/errno.h"
#include "kernel/lib/toml.h"

/* ------------------------------------------------------------------ transcript */

struct rec {
    char buf[65536];
    size_t len;
    int stop_after_errors; /* > 0: on_error returns false at that many */
    int errors;
};

static void __attribute__((format(printf, 2, 3))) rec_put(struct rec *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf + r->len, sizeof(r->buf) - r->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(r->buf) - r->len);
    r->len += (size_t)n;
}

static void rec_value(struct rec *r, const struct toml_value *v)
{
    switch (v->type) {
    case TOML_STRING:
        assert_int_equal(strlen(v->s), v->len);
        rec_put(r, "\"");
        for (const unsigned char *s = (const unsigned char *)v->s; *s; s++) {
            if (*s < 0x20 || *s == 0x7F || *s == '"' || *s == '\\')
                rec_put(r, "\\x%02x", *s);
            else
                rec_put(r, "%c", *s);
        }
        rec_put(r, "\"");
        break;
    case TOML_INT: rec_put(r, "%lld", (long long)v->i); break;
    case TOML_BOOL: rec_put(r, "%s", v->b ? "true" : "false"); break;
    case TOML_ARRAY:
        assert_true(v->len <= TOML_MAX_ARRAY);
        rec_put(r, "[");
        for (uint32_t i = 0; i < v->len; i++) {
            assert_int_not_equal(v->items[i].type, TOML_ARRAY);
            rec_put(r, "%s", i ? "," : "");
            rec_value(r, &v->items[i]);
        }
        rec_put(r, "]");
        break;
    }
}

static bool rec_table(void *ctx, const char *const *path, u32 depth, bool aot, u32 line)
{
    struct rec *r = ctx;
    rec_put(r, "%u: %s", line, aot ? "[[" : "[");
    for (u32 i = 0; i < depth; i++)
        rec_put(r, "%s%s", i ? "." : "", path[i]);
    rec_put(r, "%s\n", aot ? "]]" : "]");
    return true;
}

static bool rec_keyval(void *ctx, const char *key, const struct toml_value *v, u32 line)
{
    struct rec *r = ctx;
    rec_put(r, "%u: %s=", line, key);
    rec_value(r, v);
    rec_put(r, "\n");
    return true;
}

static bool rec_error(void *ctx, u32 line, const char *msg)
{
    struct rec *r = ctx;
    assert_true(strlen(msg) < TOML_MSG_MAX);
    rec_put(r, "%u: error: %s\n", line, msg);
    r->errors++;
    return r->stop_after_errors == 0 || r->errors < r->stop_after_errors;
}

static struct toml_parser parser;
static struct rec rec;

static int run(const char *text, size_t len)
{
    struct toml_handler h = { &rec, rec_table, rec_keyval, rec_error };
    memset(&rec, 0, sizeof(rec));
    memset(&parser, 0xA5, sizeof(parser)); /* toml_parse must initialise what it uses */
    return toml_parse(&parser, text, len, &h);
}

/* Parses a literal (which may contain NUL bytes) and compares the transcript. */
#define CHECK(doc, want) check(doc, sizeof(doc) - 1, want, __LINE__)

static void check(const char *doc, size_t len, const char *want, int line)
{
    int rc = run(doc, len);
    if (strcmp(rec.buf, want) != 0)
        print_error("test_toml.c:%d: transcript\n--- got\n%s--- want\n%s", line, rec.buf, want);
    assert_string_equal(rec.buf, want);
    assert_int_equal(rc, strstr(want, "error:") ? -EINVAL : 0);
}

/* ------------------------------------------------------------------ documents */

static void test_empty_documents(void **state)
{
    CHECK("", "");
    CHECK("\n\n\n", "");
    CHECK("   \t \n\t\n", "");
    CHECK("# only a comment", "");
    CHECK("# comment\n  # indented comment\n\n", "");
    CHECK("\r\n\r\n# x\r\n", "");
}

static void test_tables_and_keys(void **state)
{
    CHECK("a = 1\n[t]\nb = 2\n[t2]\nc = 3\n", "1: a=1\n2: [t]\n3: b=2\n4: [t2]\n5: c=3\n");
    CHECK("[ a . b ]\n[a]\n", "1: [a.b]\n2: [a]\n");
    CHECK("[a-b.c_d.0.X]\n", "1: [a-b.c_d.0.X]\n");
    CHECK("[[p]]\nx = 1\n[[p]]\nx = 2\n", "1: [[p]]\n2: x=1\n3: [[p]]\n4: x=2\n");
    CHECK("[[ p . q ]]\n", "1: [[p.q]]\n");
    CHECK("  [t]   # comment\n\tk\t=\t1\t# c\n", "1: [t]\n2: k=1\n");
    /* Bare keys may be digits, dashes, "true". */
    CHECK("1234 = 1\n-_- = 2\ntrue = 3\n", "1: 1234=1\n2: -_-=2\n3: true=3\n");
    CHECK("a=1#no space needed\nb=\"x\"#c\nc=true#c\nd=[1]#c\n", "1: a=1\n2: b=\"x\"\n3: c=true\n4: d=[1]\n");
}

static void test_no_trailing_newline_and_crlf(void **state)
{
    CHECK("[t]\nk = 1", "1: [t]\n2: k=1\n");
    CHECK("[t]\r\nk = 1\r\nj = 'x'\r\n", "1: [t]\n2: k=1\n3: j=\"x\"\n");
    CHECK("[t]\r\nk = [\r\n 1, # c\r\n 2,\r\n]\r\nz = 0", "1: [t]\n2: k=[1,2]\n6: z=0\n");
    CHECK("k = 1 \r\nj = x\r\nl = 2\r\n",
          "1: k=1\n2: error: invalid value 'x': put strings in quotes; booleans are true or "
          "false\n3: l=2\n");
}

static void test_strings(void **state)
{
    CHECK("s = \"\"\nt = ''\n", "1: s=\"\"\n2: t=\"\"\n");
    CHECK("s = \"a b\tc\"\n", "1: s=\"a b\\x09c\"\n");
    CHECK("s = \"\\b\\t\\n\\f\\r\\\"\\\\\"\n", "1: s=\"\\x08\\x09\\x0a\\x0c\\x0d\\x22\\x5c\"\n");
    CHECK("s = \"\\u00e9\\u20AC\\U0001F600\\u0041\"\n", "1: s=\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                                                        "A\"\n");
    CHECK("s = \"\\u0001\\u007f\"\n", "1: s=\"\\x01\\x7f\"\n");
    CHECK("s = 'C:\\path\\n \"q\"'\n", "1: s=\"C:\\x5cpath\\x5cn \\x22q\\x22\"\n");
    CHECK("s = \"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\"\n",
          "1: s=\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\"\n");
    CHECK("s = '#not a comment' # comment\n", "1: s=\"#not a comment\"\n");
}

static void test_string_errors(void **state)
{
    CHECK("s = \"abc\n", "1: error: unterminated string: missing closing \" before the end of the line\n");
    CHECK("s = 'abc", "1: error: unterminated string: missing closing ' before the end of the line\n");
    CHECK("s = \"a\\qb\"\n", "1: error: invalid escape \\q in a string (valid: \\b \\t \\n \\f \\r "
                             "\\\" \\\\ \\uXXXX \\UXXXXXXXX)\n");
    CHECK("s = \"a\\e\"\n", "1: error: invalid escape \\e in a string (valid: \\b \\t \\n \\f \\r "
                            "\\\" \\\\ \\uXXXX \\UXXXXXXXX)\n");
    CHECK("s = \"a\\\n", "1: error: backslash at the end of a string or before a non-printable "
                         "character: write \\\\ for a backslash\n");
    CHECK("s = \"a\\ b\"\n", "1: error: backslash at the end of a string or before a non-printable "
                             "character: write \\\\ for a backslash\n");
    CHECK("s = \"\\u12\"\n", "1: error: invalid escape \\u: expected 4 hexadecimal digits\n");
    CHECK("s = \"\\U0001F60\"\n", "1: error: invalid escape \\U: expected 8 hexadecimal digits\n");
    CHECK("s = \"\\u0000\"\n", "1: error: the escape \\u0000 (NUL) is not supported by Isthmus\n");
    CHECK("s = \"\\U00000000\"\n", "1: error: the escape \\U00000000 (NUL) is not supported by Isthmus\n");
    CHECK("s = \"\\uD800\"\n", "1: error: escape \\uD800 is not a Unicode scalar value\n");
    CHECK("s = \"\\udfff\"\n", "1: error: escape \\udfff is not a Unicode scalar value\n");
    CHECK("s = \"\\U00110000\"\n", "1: error: escape \\U00110000 is not a Unicode scalar value\n");
    CHECK("s = \"\"\"x\"\"\"\n", "1: error: multi-line strings (\"\"\") are not supported by Isthmus\n");
    CHECK("s = '''x'''\n", "1: error: multi-line strings (''') are not supported by Isthmus\n");
    CHECK("s = \"a\" \"b\"\n", "1: error: expected the end of the line after the value, found '\"'\n");
}

static void test_string_limits(void **state)
{
    char doc[1024], want[1024];
    char s255[256], s256[257];

    memset(s255, 'x', 255);
    s255[255] = '\0';
    memset(s256, 'y', 256);
    s256[256] = '\0';

    snprintf(doc, sizeof(doc), "s = \"%s\"\n", s255);
    snprintf(want, sizeof(want), "1: s=\"%s\"\n", s255);
    check(doc, strlen(doc), want, __LINE__);
    snprintf(doc, sizeof(doc), "s = '%s'\n", s255);
    check(doc, strlen(doc), want, __LINE__);
    snprintf(doc, sizeof(doc), "s = \"%s\"\nt = 1\n", s256);
    check(doc, strlen(doc), "1: error: string is too long (the limit is 255 bytes)\n2: t=1\n", __LINE__);
    snprintf(doc, sizeof(doc), "s = '%s'\n", s256);
    check(doc, strlen(doc), "1: error: string is too long (the limit is 255 bytes)\n", __LINE__);
    /* Escapes count after decoding: 85 * 3 bytes = 255 fits, 86 * 3 does not. */
    char esc[86 * 6 + 1] = "";
    for (int i = 0; i < 85; i++)
        strcat(esc, "\\u20ac");
    snprintf(doc, sizeof(doc), "s = \"%s\"\n", esc);
    run(doc, strlen(doc));
    assert_int_equal(parser.nerrors, 0);
    strcat(esc, "\\u20ac");
    snprintf(doc, sizeof(doc), "s = \"%s\"\n", esc);
    check(doc, strlen(doc), "1: error: string is too long (the limit is 255 bytes)\n", __LINE__);
}

static void test_integers(void **state)
{
    CHECK("a = 0\nb = +0\nc = -0\nd = 42\ne = -17\nf = +99\ng = 1_000_000\nh = 5_3_4\n",
          "1: a=0\n2: b=0\n3: c=0\n4: d=42\n5: e=-17\n6: f=99\n7: g=1000000\n8: h=534\n");
    CHECK("a = 9223372036854775807\nb = -9223372036854775808\n",
          "1: a=9223372036854775807\n2: b=-9223372036854775808\n");
    CHECK("a = 0xDEAD_beef\nb = 0x7fffffffffffffff\nc = 0o755\nd = 0b1010\ne = 0x00ff\n",
          "1: a=3735928559\n2: b=9223372036854775807\n3: c=493\n4: d=10\n5: e=255\n");
}

static void test_integer_errors(void **state)
{
    CHECK("a = 9223372036854775808\n", "1: error: integer '9223372036854775808' does not fit in 64 bits (signed)\n");
    CHECK("a = -9223372036854775809\n", "1: error: integer '-9223372036854775809' does not fit in 64 bits (signed)\n");
    CHECK("a = 0x8000000000000000\n", "1: error: integer '0x8000000000000000' does not fit in 64 bits (signed)\n");
    CHECK("a = 99999999999999999999999\n",
          "1: error: integer '99999999999999999999999' does not fit in 64 bits (signed)\n");
    CHECK("a = 01\n", "1: error: invalid integer '01': leading zeros are not allowed\n");
    CHECK("a = -01\n", "1: error: invalid integer '-01': leading zeros are not allowed\n");
    CHECK("a = 0_0\n", "1: error: invalid integer '0_0': leading zeros are not allowed\n");
    CHECK("a = 00\n", "1: error: invalid integer '00': leading zeros are not allowed\n");
    CHECK("a = 1__0\n", "1: error: invalid integer '1__0': '_' must be between two digits\n");
    CHECK("a = 1_\n", "1: error: invalid integer '1_': '_' must be between two digits\n");
    CHECK("a = 0x_1\n", "1: error: invalid integer '0x_1': '_' must be between two digits\n");
    CHECK("a = 0x1_\n", "1: error: invalid integer '0x1_': '_' must be between two digits\n");
    CHECK("a = 0x\n", "1: error: invalid integer '0x': no digits\n");
    CHECK("a = 0xG\n", "1: error: invalid integer '0xG'\n");
    CHECK("a = 0b102\n", "1: error: invalid integer '0b102'\n");
    CHECK("a = 0o8\n", "1: error: invalid integer '0o8'\n");
    CHECK("a = 12a\n", "1: error: invalid integer '12a'\n");
    CHECK("a = 1-2\n", "1: error: invalid integer '1-2'\n");
    CHECK("a = +\n", "1: error: invalid value '+': put strings in quotes; booleans are true or false\n");
    CHECK("a = _1\n", "1: error: invalid value '_1': put strings in quotes; booleans are true or false\n");
    CHECK("a = -0x1\n", "1: error: invalid integer '-0x1': hexadecimal, octal and binary integers take no sign\n");
    CHECK("a = +0b1\n", "1: error: invalid integer '+0b1': hexadecimal, octal and binary integers take no sign\n");
    CHECK("a = 0X10\n", "1: error: invalid integer '0X10': the prefixes are 0x, 0o and 0b, in lower case\n");
    CHECK("a = 1 2\n", "1: error: expected the end of the line after the value, found '2'\n");
}

static void test_unsupported_numbers(void **state)
{
    const char *floats[] = {
        "1.5", "1e5", "-3.0E-2", "1_0.0", "inf", "+inf", "-inf", "nan", "+nan", "-nan", "1.", "0.1"
    };
    const char *dates[] = { "1979-05-27", "1979-05-27T07:32:00Z", "07:32:00", "1979-05-27T00:32:00.999999-07:00" };
    char doc[128], want[256];

    for (size_t i = 0; i < sizeof(floats) / sizeof(floats[0]); i++) {
        snprintf(doc, sizeof(doc), "f = %s\n", floats[i]);
        snprintf(want, sizeof(want), "1: error: floating-point numbers ('%s') are not supported by Isthmus\n",
                 floats[i]);
        check(doc, strlen(doc), want, __LINE__);
    }
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        snprintf(doc, sizeof(doc), "d = %s\n", dates[i]);
        snprintf(want, sizeof(want), "1: error: dates and times ('%s') are not supported by Isthmus\n", dates[i]);
        check(doc, strlen(doc), want, __LINE__);
    }
    CHECK("d = 1979-05-27 07:32:00\n", "1: error: dates and times ('1979-05-27') are not supported by Isthmus\n");
}

static void test_booleans(void **state)
{
    CHECK("a = true\nb = false\n", "1: a=true\n2: b=false\n");
    CHECK("a = True\n", "1: error: invalid value 'True': booleans are written true and false\n");
    CHECK("a = FALSE\n", "1: error: invalid value 'FALSE': booleans are written true and false\n");
    CHECK("a = yes\n", "1: error: invalid value 'yes': put strings in quotes; booleans are true or false\n");
    CHECK("a = trueish\n", "1: error: invalid value 'trueish': put strings in quotes; booleans are true or false\n");
    CHECK("a = true false\n", "1: error: expected the end of the line after the value, found 'f'\n");
}

static void test_arrays(void **state)
{
    CHECK("a = []\nb = [ ]\nc = [1]\nd = [1,2,3,]\ne = [ 1 , 'x' , true ]\n",
          "1: a=[]\n2: b=[]\n3: c=[1]\n4: d=[1,2,3]\n5: e=[1,\"x\",true]\n");
    CHECK("a = [\n  1, # one\n\n  # a comment line\n  \"two\",\n  0x3\n]\nb = 1\n", "1: a=[1,\"two\",3]\n8: b=1\n");
    CHECK("a = [ # comment right after the bracket\n]\n", "1: a=[]\n");
    CHECK("a = ['a]', \"b]\", '#']\n", "1: a=[\"a]\",\"b]\",\"#\"]\n");
}

static void test_array_errors(void **state)
{
    CHECK("a = [[1, 2], [3]]\nb = 1\n", "1: error: nested arrays are not supported by Isthmus\n2: b=1\n");
    CHECK("a = [{x = 1}]\n", "1: error: inline tables ({...}) are not supported by Isthmus: use a [table] header\n");
    CHECK("a = [,]\n", "1: error: expected a value, found ','\n");
    CHECK("a = [1,,2]\n", "1: error: expected a value, found ','\n");
    CHECK("a = [1 2]\n", "1: error: expected ',' or ']' after an array element, found '2'\n");
    CHECK("a = [1, 2\n", "1: error: unclosed array: missing ']'\n");
    CHECK("a = [1,\n2,\n# c", "1: error: unclosed array: missing ']'\n");
    CHECK("a = [1] x\n", "1: error: expected the end of the line after the value, found 'x'\n");
    CHECK("a = [1, 1.5]\n", "1: error: floating-point numbers ('1.5') are not supported by Isthmus\n");
}

static void test_array_limits(void **state)
{
    char doc[8192];
    size_t n = 0;

    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "a = [");
    for (int i = 0; i < TOML_MAX_ARRAY; i++)
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%d,", i);
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "]\n");
    assert_int_equal(run(doc, n), 0);
    assert_non_null(strstr(rec.buf, ",63]\n"));

    n = 0;
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "a = [\n");
    for (int i = 0; i <= TOML_MAX_ARRAY; i++)
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%d,\n", i);
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "]\nb = 1\n");
    check(doc, n, "66: error: array has more than 64 elements\n68: b=1\n", __LINE__);

    /* All strings of one array share TOML_POOL_SIZE bytes. */
    char s[201];
    memset(s, 's', 200);
    s[200] = '\0';
    /* 5 * 201 + 19 = 1024 bytes with the NULs: fits exactly. */
    n = (size_t)snprintf(doc, sizeof(doc), "a = ['%s', '%s', '%s', '%s', '%s', '%.18s']\n", s, s, s, s, s, s);
    assert_int_equal(run(doc, n), 0);
    n = (size_t)snprintf(doc, sizeof(doc), "a = ['%s', '%s', '%s', '%s', '%s', '%.19s']\n", s, s, s, s, s, s);
    check(doc, n, "1: error: the strings of this array are too long together (the limit is 1024 bytes)\n", __LINE__);
}

static void test_unsupported_syntax(void **state)
{
    CHECK("a.b = 1\n", "1: error: dotted keys are not supported by Isthmus: put the key under a "
                       "[table] header (such as [a])\n");
    CHECK("a . b = 1\n", "1: error: dotted keys are not supported by Isthmus: put the key under a "
                         "[table] header (such as [a])\n");
    CHECK("\"a\" = 1\n", "1: error: quoted keys are not supported by Isthmus: use a bare key "
                         "(letters, digits, '_' and '-')\n");
    CHECK("'a' = 1\n", "1: error: quoted keys are not supported by Isthmus: use a bare key "
                       "(letters, digits, '_' and '-')\n");
    CHECK("[\"a\"]\n", "1: error: quoted keys are not supported by Isthmus: use a bare key "
                       "(letters, digits, '_' and '-')\n");
    CHECK("[a.'b']\n", "1: error: quoted keys are not supported by Isthmus: use a bare key "
                       "(letters, digits, '_' and '-')\n");
    CHECK("t = {a = 1}\n", "1: error: inline tables ({...}) are not supported by Isthmus: use a "
                           "[table] header\n");
}

static void test_key_errors(void **state)
{
    CHECK("a\n", "1: error: expected '=' after the key \"a\", found end of line\n");
    CHECK("a", "1: error: expected '=' after the key \"a\", found end of file\n");
    CHECK("a b = 1\n", "1: error: expected '=' after the key \"a\", found 'b'\n");
    CHECK("a : 1\n", "1: error: expected '=' after the key \"a\", found ':'\n");
    CHECK("= 1\n", "1: error: expected a key or a [table] header, found '='\n");
    CHECK("]\n", "1: error: expected a key or a [table] header, found ']'\n");
    CHECK("\xc3\xa9 = 1\n", "1: error: expected a key or a [table] header, found U+00E9\n");
    CHECK("a\xc2\xa0= 1\n", "1: error: expected '=' after the key \"a\", found U+00A0\n");
    CHECK("a = \xf0\x9f\x98\x80\n", "1: error: expected a value, found U+1F600\n");
    CHECK("a =\n", "1: error: expected a value after '=', found end of line\n");
    CHECK("a = # c\n", "1: error: expected a value after '=', found a comment\n");
    CHECK("a =", "1: error: expected a value after '=', found end of file\n");
    CHECK("a = }\n", "1: error: expected a value, found '}'\n");
    CHECK("a = \xe2\x82\xac\n", "1: error: expected a value, found U+20AC\n");

    char doc[256], want[512];
    char k64[65], k65[66];
    memset(k64, 'k', 64);
    k64[64] = '\0';
    memset(k65, 'k', 65);
    k65[65] = '\0';
    snprintf(doc, sizeof(doc), "%s = 1\n[%s]\n", k64, k64);
    snprintf(want, sizeof(want), "1: %s=1\n2: error: cannot define [%s]: \"%s\" is already a value (line 1)\n", k64,
             k64, k64);
    /* The table name in the message is clipped by the message limit; compare the start. */
    run(doc, strlen(doc));
    assert_int_equal(strncmp(rec.buf, want, 80), 0);
    snprintf(doc, sizeof(doc), "%s = 1\n", k65);
    check(doc, strlen(doc), "1: error: key \"kkkkkkkkkkkkkkkkkkkk...\" is too long (65 bytes; the limit is 64)\n",
          __LINE__);
    snprintf(doc, sizeof(doc), "[a.%s]\n", k65);
    check(doc, strlen(doc), "1: error: key \"kkkkkkkkkkkkkkkkkkkk...\" is too long (65 bytes; the limit is 64)\n",
          __LINE__);
}

static void test_header_errors(void **state)
{
    CHECK("[]\n", "1: error: expected a table name, found ']'\n");
    CHECK("[ ]\n", "1: error: expected a table name, found ']'\n");
    CHECK("[a\n", "1: error: expected ']' to close the table header, found end of line\n");
    CHECK("[a", "1: error: expected ']' to close the table header, found end of file\n");
    CHECK("[a b]\n", "1: error: expected ']' to close the table header, found 'b'\n");
    CHECK("[a.]\n", "1: error: expected a table name, found ']'\n");
    CHECK("[.a]\n", "1: error: expected a table name, found '.'\n");
    CHECK("[a..b]\n", "1: error: expected a table name, found '.'\n");
    CHECK("[[a]\n", "1: error: expected ']]' to close the array-of-tables header, found ']'\n");
    CHECK("[[a] ]\n", "1: error: expected ']]' to close the array-of-tables header, found ']'\n");
    CHECK("[ [a]]\n", "1: error: expected a table name, found '['\n");
    CHECK("[a]]\n", "1: error: expected the end of the line after the table header, found ']'\n");
    CHECK("[a] b = 1\n", "1: error: expected the end of the line after the table header, found 'b'\n");
    CHECK("[a.b.c.d]\n", "1: [a.b.c.d]\n");
    CHECK("[a.b.c.d.e]\n", "1: error: table name has too many parts (the limit is 4)\n");
    /* Keys under a broken header are checked but not delivered: they belong nowhere. */
    CHECK("[a\nx = 1\ny = ?\n[b]\nz = 2\n", "1: error: expected ']' to close the table header, found end of line\n"
                                            "3: error: expected a value, found '?'\n4: [b]\n5: z=2\n");
}

static void test_duplicates_and_conflicts(void **state)
{
    CHECK("a = 1\nb = 2\na = 3\n", "1: a=1\n2: b=2\n3: error: duplicate key \"a\" (first defined at line 1)\n");
    CHECK("[t]\na = 1\n[u]\na = 2\n", "1: [t]\n2: a=1\n3: [u]\n4: a=2\n");
    CHECK("[t]\n[u]\n[t]\n", "1: [t]\n2: [u]\n3: error: duplicate table [t] (already defined at line 1)\n");
    CHECK("[t]\nx=1\n[t]\ny=2\n[u]\nz=3\n",
          "1: [t]\n2: x=1\n3: error: duplicate table [t] (already defined at line 1)\n5: [u]\n6: z=3\n");
    /* [a] becomes defined implicitly by [a.b], and may then be defined once. */
    CHECK("[a.b]\n[a]\nx = 1\n[a]\n",
          "1: [a.b]\n2: [a]\n3: x=1\n4: error: duplicate table [a] (already defined at line 2)\n");
    CHECK("[a.b]\n[a.b]\n", "1: [a.b]\n2: error: duplicate table [a.b] (already defined at line 1)\n");
    CHECK("[a]\nb = 1\n[a.b]\n",
          "1: [a]\n2: b=1\n3: error: cannot define [a.b]: \"a.b\" is already a value (line 2)\n");
    CHECK("[a]\nb = 1\n[a.b.c]\n",
          "1: [a]\n2: b=1\n3: error: cannot define [a.b.c]: \"a.b\" is already a value (line 2)\n");
    CHECK("a = 1\n[a]\n", "1: a=1\n2: error: cannot define [a]: \"a\" is already a value (line 1)\n");
    CHECK("a = 1\n[[a]]\n", "1: a=1\n2: error: cannot define [[a]]: \"a\" is already a value (line 1)\n");
    CHECK("[a.b]\n[a]\nb = 1\n",
          "1: [a.b]\n2: [a]\n3: error: key \"b\" clashes with the table of the same name (line 1)\n");
    CHECK("[[a]]\n[a]\n", "1: [[a]]\n2: error: [a] is an array of tables (line 1): write [[a]]\n");
    CHECK("[a]\n[[a]]\n", "1: [a]\n2: error: cannot define array of tables [[a]]: [a] is already a table (line 1)\n");
    CHECK("[a.b]\n[[a]]\n",
          "1: [a.b]\n2: error: cannot define array of tables [[a]]: [a] is already a table (line 1)\n");
    CHECK("[a]\n[a.b]\n[[a.b]]\n",
          "1: [a]\n2: [a.b]\n3: error: cannot define array of tables [[a.b]]: [a.b] is already a table (line 2)\n");
    /* Each [[a]] element is a fresh table. */
    CHECK("[[a]]\nx = 1\n[a.b]\ny = 1\n[[a]]\nx = 2\n[a.b]\ny = 2\n",
          "1: [[a]]\n2: x=1\n3: [a.b]\n4: y=1\n5: [[a]]\n6: x=2\n7: [a.b]\n8: y=2\n");
    CHECK("[[a]]\n[a.b]\n[a.b]\n", "1: [[a]]\n2: [a.b]\n3: error: duplicate table [a.b] (already defined at line 2)\n");
    CHECK("[[a]]\nx = 1\nx = 2\n", "1: [[a]]\n2: x=1\n3: error: duplicate key \"x\" (first defined at line 2)\n");
    CHECK("[[a.b]]\n[a]\n[[a.b]]\n[a.c]\n", "1: [[a.b]]\n2: [a]\n3: [[a.b]]\n4: [a.c]\n");
    CHECK("[[a]]\n[[a.b]]\n[a]\n", "1: [[a]]\n2: [[a.b]]\n3: error: [a] is an array of tables (line 1): write [[a]]\n");
    /* A duplicate is not delivered, and the keys after it still are. */
    CHECK("[t]\na = 1\na = 2\nb = 3\n",
          "1: [t]\n2: a=1\n3: error: duplicate key \"a\" (first defined at line 2)\n4: b=3\n");
}

static void test_node_limit(void **state)
{
    static char doc[TOML_MAX_NODES * 16];
    size_t n = 0;

    /* The root is a node: TOML_MAX_NODES - 1 keys fit. */
    for (int i = 0; i < TOML_MAX_NODES - 1; i++)
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "k%d = %d\n", i, i);
    assert_int_equal(run(doc, n), 0);
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "one_more = 1\nbad = ?\n");
    assert_int_equal(run(doc, n), -EINVAL);
    assert_non_null(strstr(rec.buf, "256: error: too many tables and keys in one file (the limit is 256)\n"));
    assert_null(strstr(rec.buf, "bad")); /* the parse stops there */
    assert_true(parser.stopped);
}

static void test_encoding(void **state)
{
    CHECK("\xef\xbb\xbf[t]\n", "1: error: the file starts with a byte order mark (BOM), which TOML "
                               "does not allow: save it as UTF-8 without BOM\n");
    CHECK("a = 1\nb = \"x\x00\"\n", "2: error: NUL byte (0x00): is this a binary file?\n");
    CHECK("a = 1\rb = 2\n", "1: error: carriage return (0x0d) not followed by a line feed\n");
    CHECK("a = 1\r", "1: error: carriage return (0x0d) not followed by a line feed\n");
    CHECK("# \x01\n", "1: error: control character 0x01 is not allowed\n");
    CHECK("s = \"\x7f\"\n", "1: error: control character 0x7f is not allowed\n");
    CHECK("s = \"\x1b[0m\"\n", "1: error: control character 0x1b is not allowed\n");
    CHECK("# \x80\n", "1: error: invalid UTF-8 (byte 0x80)\n");
    CHECK("# \xc0\x80\n", "1: error: invalid UTF-8 (byte 0xc0)\n"); /* overlong NUL */
    CHECK("# \xc1\xbf\n", "1: error: invalid UTF-8 (byte 0xc1)\n");
    CHECK("# \xe0\x80\x80\n", "1: error: invalid UTF-8 (byte 0xe0)\n");     /* overlong */
    CHECK("# \xed\xa0\x80\n", "1: error: invalid UTF-8 (byte 0xed)\n");     /* surrogate */
    CHECK("# \xf0\x80\x80\x80\n", "1: error: invalid UTF-8 (byte 0xf0)\n"); /* overlong */
    CHECK("# \xf4\x90\x80\x80\n", "1: error: invalid UTF-8 (byte 0xf4)\n"); /* > U+10FFFF */
    CHECK("# \xf5\x80\x80\x80\n", "1: error: invalid UTF-8 (byte 0xf5)\n");
    CHECK("# \xff\n", "1: error: invalid UTF-8 (byte 0xff)\n");
    CHECK("# \xe2\x82\n", "1: error: invalid UTF-8 (byte 0xe2)\n"); /* cut by the newline */
    CHECK("# \xe2\x82", "1: error: invalid UTF-8 (byte 0xe2)\n");   /* cut by the end */
    CHECK("# \xf0\x9f\x98\n", "1: error: invalid UTF-8 (byte 0xf0)\n");
    /* Valid sequences at every length and at the boundaries of the ranges. */
    CHECK("# \xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf \xf0\x90\x80\x80 "
          "\xf4\x8f\xbf\xbf\n",
          "");
    /* One error per line; the statements are not parsed after an encoding error. */
    CHECK("a = ?\n\x00\x00\x01\n\xff\xfe\n\xc3\xa9\n\x02\n", "2: error: NUL byte (0x00): is this a binary file?\n"
                                                             "3: error: invalid UTF-8 (byte 0xff)\n"
                                                             "5: error: control character 0x02 is not allowed\n");
}

static void test_file_size(void **state)
{
    static char doc[TOML_MAX_FILE + 1];

    memset(doc, '\n', sizeof(doc));
    memcpy(doc, "a = 1", 5);
    memcpy(doc + TOML_MAX_FILE - 5, "b = 2", 5);
    check(doc, TOML_MAX_FILE, "1: a=1\n262135: b=2\n", __LINE__);
    check(doc, TOML_MAX_FILE + 1, "0: error: the file is larger than the limit of 262144 bytes (256 KiB)\n", __LINE__);
}

static void test_long_lines(void **state)
{
    static char doc[200000];
    size_t n;

    /* A 100 KB comment, then a 100 KB unquoted value: the message quotes only its start. */
    doc[0] = '#';
    memset(doc + 1, 'c', 99999);
    doc[100000] = '\n';
    memcpy(doc + 100001, "k = ", 4);
    memset(doc + 100005, 'v', 99990);
    n = 100005 + 99990;
    check(doc, n,
          "2: error: invalid value 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv...': put strings in quotes; "
          "booleans are true or false\n",
          __LINE__);
    memset(doc + 100005, '1', 99990);
    check(doc, n,
          "2: error: integer '1111111111111111111111111111111111111111...' does not fit in 64 "
          "bits (signed)\n",
          __LINE__);
}

static void test_recovery(void **state)
{
    /* Every mistake is reported, each on its own line. */
    CHECK("[t]\na = 1.5\nb = 2\nc = \"x\nd = [1 2\n, 3]\ne = true\n",
          "1: [t]\n2: error: floating-point numbers ('1.5') are not supported by Isthmus\n3: b=2\n"
          "4: error: unterminated string: missing closing \" before the end of the line\n"
          "5: error: expected ',' or ']' after an array element, found '2'\n7: e=true\n");
    /* An error inside a multi-line array resumes after the array... */
    CHECK("a = [\n  1,\n  x,\n  3,\n  \"]\",  # ]\n]\nb = 2\n",
          "3: error: invalid value 'x': put strings in quotes; booleans are true or false\n7: b=2\n");
    CHECK("a = [\n  [1, 2],\n  [3, 4],\n]\nb = 2\n", "2: error: nested arrays are not supported by Isthmus\n5: b=2\n");
    /* ...or at the next line that looks like a statement when the ']' is missing. */
    CHECK("a = [1,\n  2\nb = 3\n[t]\nc = 4\n",
          "3: error: expected ',' or ']' after an array element, found 'b'\n4: [t]\n5: c=4\n");
    CHECK("a = [1, x\n[t]\nc = 4\n",
          "1: error: invalid value 'x': put strings in quotes; booleans are true or false\n2: [t]\n3: c=4\n");
    CHECK("a = [1,\n  \"a\\q\", # x\n  'y = z',\n]\nb = 1\n",
          "2: error: invalid escape \\q in a string (valid: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX "
          "\\UXXXXXXXX)\n5: b=1\n");
}

static void test_stop(void **state)
{
    struct toml_handler h = { &rec, rec_table, rec_keyval, rec_error };
    const char *doc = "a = ?\nb = ?\nc = ?\nd = ?\n";

    memset(&rec, 0, sizeof(rec));
    rec.stop_after_errors = 2;
    assert_int_equal(toml_parse(&parser, doc, strlen(doc), &h), -EINVAL);
    assert_int_equal(rec.errors, 2);
    assert_true(parser.stopped);

    /* Without callbacks errors are still counted. */
    static const struct toml_handler none = { 0 };
    assert_int_equal(toml_parse(&parser, "[a]\nb = 1\n", 10, &none), 0);
    assert_int_equal(toml_parse(&parser, "b = ?\n", 6, &none), -EINVAL);
    assert_int_equal(parser.nerrors, 1);
}

static bool stop_at_table(void *ctx, const char *const *path, u32 depth, bool aot, u32 line) { return false; }

static void test_stop_valid(void **state)
{
    struct toml_handler h = { &rec, stop_at_table, rec_keyval, rec_error };
    memset(&rec, 0, sizeof(rec));
    assert_int_equal(toml_parse(&parser, "a = 1\n[t]\nb = ?\n", 16, &h), 0);
    assert_true(parser.stopped);
    assert_string_equal(rec.buf, "1: a=1\n");
}

/* Random bytes and random mixes of TOML tokens must neither crash nor break the
 * transcript's invariants (checked in the callbacks). */
static void test_garbage(void **state)
{
    static const char *const pieces[] = {
        "[",  "]",   "[[",       "]]",   "=",    " ",      "\t",  "\n", "\r\n", "#",     "\"",    "'",
        "\\", "\\u", "a",        "key",  ".",    ",",      "0x",  "1",  "_",    "-",     "+",     "true",
        "{",  "}",   "\xc3\xa9", "\xff", "\x00", "\"\"\"", "1e5", ":",  "[a]",  "[[b]]", "x = [", "y = 1\n",
    };
    static char doc[4096];
    uint64_t seed = 0x1234567;

    for (int round = 0; round < 3000; round++) {
        size_t n = 0;
        int len = (int)((seed >> 33) % 200);
        for (int i = 0; i < len; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            if (round % 2) {
                doc[n++] = (char)(seed >> 56);
            } else {
                const char *p = pieces[(seed >> 33) % (sizeof(pieces) / sizeof(pieces[0]))];
                size_t pl = strlen(p) ? strlen(p) : 1; /* "\x00" is one NUL byte */
                memcpy(doc + n, p, pl);
                n += pl;
            }
        }
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int rc = run(doc, n);
        assert_true(rc == 0 || rc == -EINVAL);
        assert_int_equal(rc == 0, parser.nerrors == 0);
    }
}

static void test_type_names(void **state)
{
    assert_string_equal(toml_type_name(TOML_STRING), "a string");
    assert_string_equal(toml_type_name(TOML_INT), "an integer");
    assert_string_equal(toml_type_name(TOML_BOOL), "a boolean");
    assert_string_equal(toml_type_name(TOML_ARRAY), "an array");
    assert_string_equal(toml_type_name((enum toml_type)99), "an unknown type");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_documents),
        cmocka_unit_test(test_tables_and_keys),
        cmocka_unit_test(test_no_trailing_newline_and_crlf),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_string_errors),
        cmocka_unit_test(test_string_limits),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_integer_errors),
        cmocka_unit_test(test_unsupported_numbers),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_array_errors),
        cmocka_unit_test(test_array_limits),
        cmocka_unit_test(test_unsupported_syntax),
        cmocka_unit_test(test_key_errors),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_duplicates_and_conflicts),
        cmocka_unit_test(test_node_limit),
        cmocka_unit_test(test_encoding),
        cmocka_unit_test(test_file_size),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_stop_valid),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
