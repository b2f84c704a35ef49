#!/bin/sh
# callgraph.sh: the file-level call graph of the dispatcher, from the
# functions its objects define (T) and use (U) as nm lists them (the
# shared state, main.c's struct dispatcher d, is data, not a call).
# Prints one line per file, "file: the files it calls". Fails when
# dispatcher files call each other through any path (a cycle: each file
# may call only files below it in the reading order of docs/internals.md;
# what happens later reaches it through callbacks), or when the graph
# that doc shows is not this one. Run by make unit.
#
# usage: callgraph.sh docs/internals.md build/obj/dispatcher/*.o
set -eu
[ $# -gt 1 ] || { echo "usage: $0 internals.md file.o ..." >&2; exit 2; }
doc=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/defs"
: >"$tmp/uses"
for o in "$@"; do
	f=$(basename "$o" .o)
	nm "$o" | awk -v f="$f" '$2 == "T" { print $3, f }' >>"$tmp/defs"
	nm "$o" | awk -v f="$f" '$1 == "U" { print f, $2 }' >>"$tmp/uses"
done
# file -> file edges (a file calling itself is no edge).
awk 'NR == FNR { def[$1] = $2; next }
    ($2 in def) && def[$2] != $1 { print $1, def[$2] }' \
    "$tmp/defs" "$tmp/uses" | sort -u >"$tmp/edges"
for o in "$@"; do
	f=$(basename "$o" .o)
	printf '%s:' "$f"
	awk -v f="$f" '$1 == f { printf " %s", $2 }' "$tmp/edges"
	printf '\n'
done | sort >"$tmp/graph"
cat "$tmp/graph"
# tsort names a cycle on stderr (and exits 0 on some systems).
if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/cycle" || [ -s "$tmp/cycle" ]
then
	echo "callgraph: dispatcher files call each other in a cycle:" >&2
	grep -v 'input contains a loop' "$tmp/cycle" | sed 's/^tsort: /  /' >&2
	exit 1
fi
# The doc's copy: the fenced block after the line naming this script.
awk '/^<!-- callgraph.sh -->$/ { on = 1; next }
    on && /^```/ { if (++fence == 2) exit; next }
    on && fence == 1 { print }' "$doc" >"$tmp/doc"
if ! cmp -s "$tmp/graph" "$tmp/doc"; then
	echo "callgraph: the graph in $doc is not the dispatcher's;" \
	    "paste the lines above into it" >&2
	diff "$tmp/doc" "$tmp/graph" >&2 || true
	exit 1
fi
