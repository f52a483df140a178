#!/usr/bin/env bash
# fuzz/replay.sh -- runs a libFuzzer harness once over every file in the
# given directories (crashers kept in tests/data/regress/, seed corpora).
#
#   replay.sh HARNESS DIR...
#
# Files named README* or starting with "." are skipped; missing or empty
# directories just contribute nothing.  Exits with the harness's status
# (non-zero when any input crashes or trips a sanitizer).
set -u

if (($# < 1)); then
    echo "usage: replay.sh HARNESS DIR..." >&2
    exit 2
fi
harness=$1
shift
inputs=()
for dir in "$@"; do
    [[ -d $dir ]] || continue
    while IFS= read -r -d '' f; do
        inputs+=("$f")
    done < <(find "$dir" -type f ! -name 'README*' ! -name '.*' -print0 |
             sort -z)
done
if ((${#inputs[@]} == 0)); then
    echo "replay: no inputs in $*"
    exit 0
fi
echo "replay: ${#inputs[@]} inputs through $(basename -- "$harness")"
exec "$harness" -rss_limit_mb=2048 -timeout=30 "${inputs[@]}"
