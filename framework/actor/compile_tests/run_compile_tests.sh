#!/usr/bin/env bash
# Compiles each snippet in this folder: "EXPECT-OK" ones must compile, "EXPECT-ERROR: msg" ones
# must fail with that message. Proves that typed references reject wrong messages at compile
# time (and that the check is not vacuous: the positive control must compile).
set -uo pipefail
dir=framework/actor/compile_tests
failures=0
count=0
for src in "$dir"/*.cc; do
  count=$((count + 1))
  first=$(head -1 "$src")
  out=$(g++ -std=c++20 -fsyntax-only -I. "$src" 2>&1)
  rc=$?
  case "$first" in
    "// EXPECT-OK"*)
      if [[ $rc -ne 0 ]]; then
        echo "FAIL $src: expected to compile, got:"; echo "$out" | head -20; failures=$((failures + 1))
      else
        echo "ok   $src compiles"
      fi ;;
    "// EXPECT-ERROR: "*)
      want=${first#// EXPECT-ERROR: }
      if [[ $rc -eq 0 ]]; then
        echo "FAIL $src: compiled, but must be rejected with: $want"; failures=$((failures + 1))
      elif ! grep -qF -- "$want" <<<"$out"; then
        echo "FAIL $src: rejected, but without: $want"; echo "$out" | grep -m5 error; failures=$((failures + 1))
      else
        echo "ok   $src rejected: $want"
      fi ;;
    *) echo "FAIL $src: first line must be // EXPECT-OK or // EXPECT-ERROR: ..."; failures=$((failures + 1)) ;;
  esac
done
echo "$count snippets, $failures failures"
[[ $failures -eq 0 && $count -ge 2 ]]
