#!/bin/sh
# check_layout.sh — the dependency rules of README's Architecture section,
# checked on every #include of the source folders (run by `make test`):
#
#   app/      may include anything of the project
#   train/    train/, engine/, util/
#   engine/   engine/, util/         net/      net/, util/
#   storage/  storage/, util/        ui/       ui/, util/
#   util/     util/ only
#
# Project headers are included by their path from the repository root
# ("engine/gguf.h"), so a bare "x.h" in these folders is refused too (it
# would slip past the rules).  Two library rules ride along: only storage/
# includes <sqlite3.h>, and only ui/term.c includes curses.  tests/ and
# tools/ may include anything and are not checked.
#
# Prints one line per broken rule (file:line, the include, what the folder
# may use) and exits 1; prints nothing and exits 0 when all is well.
# Usage: tools/check_layout.sh [ROOT] (default: the repository root).
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2

allowed() {
    case $1 in
    app) echo "app engine train net storage ui util" ;;
    train) echo "train engine util" ;;
    engine | net | storage | ui) echo "$1 util" ;;
    util) echo "util" ;;
    esac
}

status=0
for dir in app train engine net storage ui util; do
    [ -d "$dir" ] || continue
    ok=$(allowed "$dir")
    shown=$(for d in $ok; do printf ' %s/' "$d"; done)
    for f in "$dir"/*.c "$dir"/*.h; do
        [ -f "$f" ] || continue
        out=$(awk -v file="$f" -v dir="$dir" -v ok=" $ok " -v shown="$shown" '
            /^[ \t]*#[ \t]*include[ \t]*"/ {
                inc = $0
                sub(/^[^"]*"/, "", inc)
                sub(/".*$/, "", inc)
                top = inc
                if (index(top, "/") == 0) {
                    printf "%s:%d: #include \"%s\": include project headers by their path from the repository root\n", file, FNR, inc
                    next
                }
                sub(/\/.*$/, "", top)
                if (index(ok, " " top " ") == 0)
                    printf "%s:%d: #include \"%s\": %s/ may include only%s\n", file, FNR, inc, dir, shown
                next
            }
            /^[ \t]*#[ \t]*include[ \t]*<sqlite3\.h>/ && dir != "storage" {
                printf "%s:%d: <sqlite3.h>: only storage/ talks to SQLite\n", file, FNR
            }
            /^[ \t]*#[ \t]*include[ \t]*<(n?curses|ncursesw\/curses)\.h>/ && file != "ui/term.c" {
                printf "%s:%d: curses: only ui/term.c calls ncurses\n", file, FNR
            }' "$f")
        if [ -n "$out" ]; then
            printf '%s\n' "$out" >&2
            status=1
        fi
    done
done
if [ $status -ne 0 ]; then
    echo "layout: the includes above break the dependency rules (README.md, Architecture; tools/check_layout.sh)" >&2
fi
exit $status
