# Sourced by scripts/run and scripts/test: a virtualenv in .venv with the project
# installed (editable). Reinstalls only when pyproject.toml changes, so running
# the commands again is quick and safe.
set -euo pipefail

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

ensure_venv() {
    local extras="$1"  # "" or "dev"
    local python
    if [ ! -x .venv/bin/python ]; then
        python=$(find_python)
        echo "creating .venv with $python" >&2
        "$python" -m venv .venv
    fi
    local spec="."
    [ -n "$extras" ] && spec=".[$extras]"
    local stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-${extras:-base}"
    if [ ! -f "$stamp" ]; then
        echo "installing $spec into .venv (log: .venv/pip.log)" >&2
        if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
               .venv/bin/python -m pip install --disable-pip-version-check -e "$spec"; } \
               > .venv/pip.log 2>&1; then
            tail -n 40 .venv/pip.log >&2
            echo "installation failed; full log in .venv/pip.log" >&2
            return 1
        fi
        touch "$stamp"
    fi
}
