#!/usr/bin/env bash
# Lint the GitHub Actions workflows in .github/workflows with actionlint,
# built from source through the Go module proxy at a pinned version.
# actionlint also runs shellcheck on `run:` scripts when shellcheck is on
# PATH; it is optional and not required here.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_VERSION=v1.7.12

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ ${#workflows[@]} -eq 0 ]; then
  echo "actionlint: no workflows in .github/workflows" >&2
  exit 1
fi

go run "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}" -color=false "$@" "${workflows[@]}"
echo "actionlint ${ACTIONLINT_VERSION}: ${#workflows[@]} workflow file(s), no findings"
