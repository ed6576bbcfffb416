#!/usr/bin/env python3
"""Every unit test runs under exactly one CTest test.

tests/CMakeLists.txt builds one executable per tests/<folder>/ and gives each
*_test.cpp file its own CTest test, which runs that executable filtered to the
file's test suites (the first argument of each TEST/TEST_F at the start of a
line). A test written another way (indented, or through a macro) would match no
filter and silently never run; this checks that, per executable, the filtered
runs list exactly the tests the unfiltered executable has."""
import collections
import json
import subprocess
import sys

build = sys.argv[1]
listing = subprocess.run(["ctest", "--test-dir", build, "--show-only=json-v1"],
                         capture_output=True, text=True, check=True).stdout


def tests_of(command):
    out = subprocess.run(command + ["--gtest_list_tests"], capture_output=True, text=True,
                         check=True).stdout
    suite, names = "", []
    for line in out.splitlines():
        if not line.startswith(" "):
            suite = line.split("#")[0].strip()
        else:
            names.append(suite + line.split("#")[0].strip())
    return names


filtered = collections.defaultdict(list)
for t in json.loads(listing)["tests"]:
    cmd = t.get("command") or []
    if not cmd or "--gtest_filter" not in " ".join(cmd) or t["name"].endswith(".passivating"):
        continue
    filtered[cmd[0]] += tests_of(cmd)

ok = bool(filtered)
for exe, names in sorted(filtered.items()):
    every = tests_of([exe])
    twice = sorted(n for n, c in collections.Counter(names).items() if c > 1)
    never = sorted(set(every) - set(names))
    print(f"{exe.rsplit('/', 1)[-1]}: {len(every)} tests, {len(set(names))} under a file's filter")
    for n in never:
        print(f"  runs under no CTest test: {n}")
    for n in twice:
        print(f"  runs under two CTest tests: {n}")
    ok = ok and not never and not twice
sys.exit(0 if ok else 1)
