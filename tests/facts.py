"""Assertions on facts, not sentences: find the line of some output that holds
given figures and key words, whatever the words around them say.

    line_with(out, "svc-stop", "standby stop-a", "not running")
    m = line_with(text, "client:", "svc 0", re.compile(r"outage ([\\d.]+) ms"))
    float(m[1])

A fact is a string (a word, a figure, a name or a short phrase such as
"1000 ms"): it must appear in the line as whole words, not as part of a longer
word, name or number ("10 ms" does not match "110 ms" nor "10 msec", "stop-a"
not "stop-ab"); a run of spaces in it matches any run of blanks. Case counts
(state names such as DOWN and down differ). Or a compiled regex, searched
within the line (its flags are not used): its groups capture figures.
The facts may come in any order in the line. Shared by tests/boot and tests/tools.
"""
import re

# Word characters for the edges of a fact: letters, digits, '_' and '-' (names
# such as stop-a, rx-small); a '.' joins words only before a word character
# (a decimal point, a file name), not at the end of a sentence.
_BEFORE = r"(?<![\w-])(?<![\w-]\.)"
_AFTER = r"(?![\w-])(?!\.\w)"


def _fact(fact):
    if isinstance(fact, re.Pattern):
        return "(?:%s)" % fact.pattern
    if not isinstance(fact, str) or not fact.strip():
        raise TypeError(f"a fact is a non-empty string or a compiled regex, not {fact!r}")
    body = r"[ \t]+".join(re.escape(w) for w in fact.split())
    return _BEFORE + body + _AFTER


def fact_line(*facts):
    """A compiled regex for one line (up to, not including, its newline) that
    holds every fact. Its groups are the regex facts' groups, in order. Use it
    with pexpect or wait_for, or .finditer() for every such line."""
    assert facts, "no facts"
    return re.compile(r"(?m)^" + "".join(r"(?=[^\n]*?%s)" % _fact(f) for f in facts) + r"[^\n]*")


def line_with(text, *facts):
    """The first line of text that holds every fact, as a match (m[0] is the
    line, m[1]... the regex facts' groups), or None."""
    return fact_line(*facts).search(text)


def lines_with(text, *facts):
    """Every line of text that holds every fact, as a list of lines."""
    return [m[0] for m in fact_line(*facts).finditer(text)]
