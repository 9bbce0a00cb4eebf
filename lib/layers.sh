#!/bin/sh
#   layers.sh - the build's check that calls only go down: a file may
#   include headers of its own folder and of the folders below it, never
#   of a folder above. Run by make before it compiles; prints each
#   include that goes up (file:line) and fails.
#
#   The order, lowest first. Folders on one line are side by side: neither
#   includes the other.
LAYERS='
lib/base
lib/cell lib/store
lib/data
lib/render
lib/jobs
lib/train
lib/tune
lib/serve
magics
kernel
'
cd "$(dirname "$0")/.." || exit 2
rank () {
    echo "$LAYERS" | awk -v f="$1" 'NF { n++; for (i = 1; i <= NF; i++) if ($i == f) { print n; exit } }'
}
status=0
for dir in $(echo "$LAYERS"); do
    mine=$(rank "$dir")
    for file in "$dir"/*.c "$dir"/*.h; do
        [ -f "$file" ] || continue
        grep -n '^#include "' "$file" | while IFS= read -r line; do
            number=${line%%:*}
            header=$(echo "$line" | sed 's/^[0-9]*:#include "\([^"]*\)".*/\1/')
            case "$header" in
                */*) folder=${header%/*}
                     [ -d "lib/$folder" ] && folder="lib/$folder" ;;
                *)   folder=$dir ;;
            esac
            theirs=$(rank "$folder")
            if [ -z "$theirs" ]; then
                continue        #   generated or system-like headers
            fi
            if [ "$folder" != "$dir" ] && [ "$theirs" -ge "$mine" ]; then
                echo "$file:$number: includes $header: $folder is not below $dir (see lib/layers.sh)"
                echo x
            fi
        done
    done
done | { bad=0; while IFS= read -r out; do
            if [ "$out" = x ]; then bad=1; else echo "$out" >&2; fi
        done; exit $bad; }
