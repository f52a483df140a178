#!/usr/bin/env bash
# scripts/test.sh -- every test vdisk has, as CI runs it.
#
#   bash scripts/test.sh
#
# 1. installs missing Debian packages (scripts/deps.sh);
# 2. build/       gcc build, "meson test" (every suite, including the
#                 Linux guest boots of tests/guests: VDISK_GUEST_TESTS=1
#                 is exported for this stage only);
# 3. build-asan/  the same with AddressSanitizer + UBSan, where any report
#                 fails the test;
# 4. build-fuzz/  clang + libFuzzer: each fuzz/fuzz_*.c harness runs a short
#                 deterministic smoke run on its seed corpus, then the
#                 "fuzz" suite replays tests/data/regress/.
# It ends with a summary and a last line "N passed, N failed" (totals over
# all stages; a stage that fails to configure or build counts as one
# failure) and exits 1 when anything failed.
#
# Environment (all optional):
#   VDISK_BUILD_ROOT  where the build directories go (default: repo root)
#   VDISK_STAGES      subset of "normal asan fuzz" (default: all three)
#   VDISK_FUZZ_RUNS   inputs per harness in the smoke run (default 20000)
#   VDISK_GUEST_TESTS 0 skips the guest boots in build/ (default 1 there;
#                     build-asan/ runs them only when it is 1: ASan is
#                     several times slower)
#   VDISK_GUEST_TIMEOUT  virtual seconds per guest boot (default 90 here;
#                     a guest needs about 47)
set -u -o pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$PWD
BUILD_ROOT=${VDISK_BUILD_ROOT:-$ROOT}
STAGES=${VDISK_STAGES:-normal asan fuzz}
FUZZ_RUNS=${VDISK_FUZZ_RUNS:-20000}
JOBS=2

# shellcheck source=scripts/deps.sh
. "$ROOT/scripts/deps.sh"

# Any sanitizer report aborts the process, so the test fails.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1"

PASSED=0
FAILED=0
STAGE_LINES=()   # one summary line per stage
FAILURES=()      # "stage: test (RESULT)" for everything that failed

has_stage()
{
    [[ " $STAGES " == *" $1 "* ]]
}

banner()
{
    printf '\n==== %s ====\n' "$*"
}

# Records one failure that is not a test (configure, build, setup).
fail_step()
{
    FAILED=$((FAILED + 1))
    FAILURES+=("$1")
    echo "FAILED: $1" >&2
}

# configure DIR MESON-OPTIONS...: sets up a build directory, reconfiguring
# an existing one (and wiping it when reconfiguring fails).
configure()
{
    local dir=$1
    shift
    if [[ -f $dir/meson-private/coredata.dat ]]; then
        meson setup --reconfigure "$dir" "$ROOT" "$@" && return 0
        echo "reconfigure failed; wiping $dir" >&2
        meson setup --wipe "$dir" "$ROOT" "$@"
    else
        meson setup "$dir" "$ROOT" "$@"
    fi
}

# count_testlog LABEL LOG: adds the results in meson's testlog.json (one
# JSON object per line) to the totals and the stage summary.
count_testlog()
{
    local label=$1 log=$2 counts ok fail skip line
    if [[ ! -f $log ]]; then
        fail_step "$label: meson test wrote no $log"
        return
    fi
    mapfile -t counts < <(python3 - "$log" <<'PY'
import json, sys
ok = fail = skip = 0
failed = []
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        if not line.strip():
            continue
        t = json.loads(line)
        r = t.get("result", "ERROR")
        if r in ("OK", "EXPECTEDFAIL"):
            ok += 1
        elif r == "SKIP":
            skip += 1
        else:
            fail += 1
            failed.append("%s (%s)" % (t.get("name", "?"), r))
print(ok, fail, skip)
for name in failed:
    print(name)
PY
    )
    if ((${#counts[@]} == 0)); then
        fail_step "$label: cannot read $log"
        return
    fi
    read -r ok fail skip <<<"${counts[0]}"
    PASSED=$((PASSED + ok))
    FAILED=$((FAILED + fail))
    for line in "${counts[@]:1}"; do
        FAILURES+=("$label: $line")
    done
    STAGE_LINES+=("$(printf '%-28s %4d passed, %4d failed, %4d skipped' \
                   "$label" "$ok" "$fail" "$skip")")
}

# runnable_tests LABEL DIR ARRAY: after a failed build, stores in ARRAY the
# names of the tests whose built files (program and arguments inside DIR)
# exist and are up to date, and records each of the others as a failure
# (a stale vdisk would test old code).  Returns 1 when the test list cannot
# be read.
runnable_tests()
{
    local label=$1 dir=$2 unbuilt=0 state name
    local -n out=$3
    local listing
    if ! listing=$(meson introspect --tests "$dir" | python3 -c '
import json, os, subprocess, sys
build = os.path.realpath(sys.argv[1])
def current(path):
    if not os.path.exists(path):
        return False
    rel = os.path.relpath(os.path.realpath(path), build)
    dry = subprocess.run(["ninja", "-C", build, "-n", rel],
                         capture_output=True, text=True)
    return dry.returncode == 0 and "no work to do" in dry.stdout
for t in json.load(sys.stdin):
    # Tests run in the build directory: relative paths start there.
    paths = [os.path.realpath(os.path.join(build, a)) for a in t["cmd"]]
    built = [p for p in paths if p.startswith(build + os.sep)]
    ok = os.path.exists(paths[0]) and all(current(p) for p in built)
    print("run" if ok else "missing", t["name"])
' "$dir"); then
        fail_step "$label: cannot list the tests"
        return 1
    fi
    while read -r state name; do
        if [[ $state == run ]]; then
            out+=("$name")
        else
            unbuilt=$((unbuilt + 1))
            FAILED=$((FAILED + 1))
            FAILURES+=("$label: $name (not built)")
        fi
    done <<<"$listing"
    if ((unbuilt > 0)); then
        STAGE_LINES+=("$(printf '%-28s %4d tests not built (failed)' \
                       "$label" "$unbuilt")")
    fi
    return 0
}

# meson_stage LABEL DIR TEST-ARGS -- SETUP-OPTIONS: configure, build
# (keeping going past errors), then run the tests that could be built.
meson_stage()
{
    local label=$1 dir=$2 test_args=() rc
    shift 2
    while (($# > 0)) && [[ $1 != -- ]]; do
        test_args+=("$1")
        shift
    done
    shift
    banner "$label: configure $dir"
    if ! configure "$dir" "$@"; then
        fail_step "$label: meson setup failed"
        return
    fi
    banner "$label: build"
    local names=()
    if ! ninja -C "$dir" -k 0; then
        fail_step "$label: build failed (the tests that built still run)"
        # meson test refuses to start when any test program is missing:
        # name the runnable ones, count the others as failed.
        if ! runnable_tests "$label" "$dir" names; then
            return
        fi
        if ((${#names[@]} == 0)); then
            return
        fi
    fi
    banner "$label: meson test"
    rm -f "$dir/meson-logs/testlog.json"
    meson test -C "$dir" --no-rebuild --num-processes "$JOBS" \
        --print-errorlogs "${test_args[@]}" "${names[@]}"
    rc=$?
    local before=$FAILED
    count_testlog "$label" "$dir/meson-logs/testlog.json"
    if ((rc != 0 && FAILED == before)); then
        fail_step "$label: meson test exited $rc"
    fi
}

# fuzz_smoke DIR: runs every harness built in DIR/fuzz on its seed corpus
# (fuzz/corpus/<name>/), deterministically, for FUZZ_RUNS inputs.
fuzz_smoke()
{
    local dir=$1 exes exe name corpus work log ok=0 fail=0 done_line
    mapfile -t exes < <(find "$dir/fuzz" -maxdepth 1 -type f -perm -u+x \
                             -name 'fuzz_*' 2>/dev/null | sort)
    if ((${#exes[@]} == 0)); then
        fail_step "fuzz smoke: no harness was built in $dir/fuzz"
        return
    fi
    mkdir -p "$dir/fuzz-artifacts"
    for exe in "${exes[@]}"; do
        name=${exe##*/fuzz_}
        corpus=()
        if [[ -d $ROOT/fuzz/corpus/$name ]]; then
            corpus=("$ROOT/fuzz/corpus/$name")
        fi
        # New inputs go to the first directory: a scratch one, so the
        # seed corpus in the source tree is never modified.
        work=$(mktemp -d)
        log=$dir/meson-logs/fuzz_smoke_$name.log
        "$exe" -seed=1 -runs="$FUZZ_RUNS" -max_total_time=120 -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$dir/fuzz-artifacts/$name-" \
            "$work" "${corpus[@]}" >"$log" 2>&1
        local rc=$?
        rm -rf "$work"
        done_line=$(grep -m1 '^Done [0-9]* runs' "$log")
        if ((rc == 0)); then
            ok=$((ok + 1))
            echo "fuzz_$name: ok (${done_line:-see $log})"
        else
            fail=$((fail + 1))
            FAILURES+=("fuzz smoke: fuzz_$name (exit $rc, log $log)")
            echo "fuzz_$name: FAILED with exit $rc; last lines of $log:"
            tail -n 40 "$log"
        fi
    done
    PASSED=$((PASSED + ok))
    FAILED=$((FAILED + fail))
    STAGE_LINES+=("$(printf '%-28s %4d passed, %4d failed, %4d skipped' \
                   "fuzz smoke (clang)" "$ok" "$fail" 0)")
}

fuzz_stage()
{
    local dir=$BUILD_ROOT/build-fuzz
    banner "fuzz: configure $dir (clang)"
    if ! CC=clang configure "$dir" -Dfuzzing=enabled \
            -Db_sanitize=address,undefined -Db_lundef=false; then
        fail_step "fuzz: meson setup failed"
        return
    fi
    banner "fuzz: build"
    if ! ninja -C "$dir" -k 0; then
        fail_step "fuzz: build failed"
    fi
    banner "fuzz: smoke runs ($FUZZ_RUNS inputs each, -seed=1)"
    fuzz_smoke "$dir"
    banner "fuzz: replay tests/data/regress"
    rm -f "$dir/meson-logs/testlog.json"
    meson test -C "$dir" --no-rebuild --num-processes "$JOBS" \
        --print-errorlogs --suite fuzz
    local rc=$? before=$FAILED
    count_testlog "fuzz replay (clang)" "$dir/meson-logs/testlog.json"
    if ((rc != 0 && FAILED == before)); then
        fail_step "fuzz replay: meson test exited $rc"
    fi
}

# The guest boots (tests/guests, opt-in with VDISK_GUEST_TESTS=1) run in
# the normal stage by default; guest_env_end leaves the caller's setting
# (when there was one) for the ASan stage, so that it boots the guests
# only when the caller asked for them.
GUEST_TESTS_SET=${VDISK_GUEST_TESTS+set}
export VDISK_GUEST_TIMEOUT=${VDISK_GUEST_TIMEOUT:-90}

guest_env_begin()
{
    export VDISK_GUEST_TESTS=${VDISK_GUEST_TESTS:-1}
}

guest_env_end()
{
    if [[ $GUEST_TESTS_SET != set ]]; then
        unset VDISK_GUEST_TESTS
    fi
}

summary()
{
    local line
    banner "Summary"
    for line in "${STAGE_LINES[@]}"; do
        echo "$line"
    done
    if ((${#FAILURES[@]} > 0)); then
        echo "Failures:"
        for line in "${FAILURES[@]}"; do
            echo "  $line"
        done
    fi
    echo "$PASSED passed, $FAILED failed"
}

main()
{
    local pkgs=("${DEPS_BUILD[@]}" "${DEPS_RUN[@]}" "${DEPS_TEST[@]}"
                "${DEPS_ORACLE[@]}" "${DEPS_GUESTS[@]}")
    local start=$SECONDS
    if has_stage fuzz; then
        pkgs+=("${DEPS_FUZZ[@]}")
    fi
    banner "dependencies"
    if ! deps_ensure "${pkgs[@]}"; then
        fail_step "dependencies: packages missing"
        summary
        exit 1
    fi
    if has_stage normal; then
        guest_env_begin
        meson_stage "build (gcc)" "$BUILD_ROOT/build" -- -Dtests=enabled
        guest_env_end
    fi
    if has_stage asan; then
        meson_stage "build-asan (ASan+UBSan)" "$BUILD_ROOT/build-asan" \
            --timeout-multiplier 3 -- -Dtests=enabled \
            -Db_sanitize=address,undefined -Db_lundef=false
    fi
    if has_stage fuzz; then
        fuzz_stage
    fi
    echo
    echo "(all stages took $((SECONDS - start)) s)"
    summary
    ((FAILED == 0))
}

main "$@"
