#!/usr/bin/env bash
# Prints the path of a working Python 3.12 interpreter (the Lambda runtime's version).
# Looks on PATH first, then in pyenv's versions; exits 1 when there is none.
set -u
for candidate in "${PYTHON312:-}" python3.12; do
  [ -n "$candidate" ] || continue
  if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
    command -v "$candidate"; exit 0
  fi
done
if command -v pyenv >/dev/null 2>&1; then
  for candidate in "$(pyenv root)"/versions/3.12*/bin/python3.12; do
    if [ -x "$candidate" ] && "$candidate" -c 'import sys' >/dev/null 2>&1; then
      echo "$candidate"; exit 0
    fi
  done
fi
echo "no Python 3.12 interpreter found (install one, or set PYTHON312=/path/to/python3.12)" >&2
exit 1
