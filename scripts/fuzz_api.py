"""A long schemathesis run: tests/api/test_openapi_fuzz.py with many more examples.

    .venv/bin/python scripts/fuzz_api.py                      # 500 examples per operation
    .venv/bin/python scripts/fuzz_api.py --examples 2000 --seed 42
    .venv/bin/python scripts/fuzz_api.py --database sqlite -- -k transactions

The same fuzzing as the suite (same app, fixtures, checks, and journal invariants
after each operation's run), but with random data (a new seed each run unless
--seed is given; the seed is printed so a failure can be reproduced) and the
coverage phase on (boundary values of every field). PostgreSQL runs too when
TEST_DATABASE_URL names a server. Not part of the suite; it takes minutes.
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_FILE = "tests/api/test_openapi_fuzz.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="per operation (500)")
    parser.add_argument("--seed", type=int, help="Hypothesis seed (default: random)")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql", "both"),
        default="both",
        help="PostgreSQL needs TEST_DATABASE_URL (default: both)",
    )
    parser.add_argument("--no-coverage-phase", action="store_true", help="skip boundary values")
    parser.add_argument("pytest_args", nargs="*", help="after --: extra pytest arguments")
    args = parser.parse_args(argv)
    if args.examples < 1:
        parser.error("--examples must be at least 1")

    seed = args.seed if args.seed is not None else random.randrange(2**32)
    env = {
        **os.environ,
        "FUZZ_EXAMPLES": str(args.examples),
        "FUZZ_RANDOM": "1",
        "FUZZ_COVERAGE": "0" if args.no_coverage_phase else "1",
    }
    command = [sys.executable, "-m", "pytest", TEST_FILE, f"--hypothesis-seed={seed}", "-q"]
    if args.database != "both":
        command += ["-k", args.database]
    if args.database != "sqlite" and not os.environ.get("TEST_DATABASE_URL"):
        print("TEST_DATABASE_URL is not set: PostgreSQL runs are skipped", file=sys.stderr)
    command += args.pytest_args
    print(f"fuzzing with {args.examples} examples per operation, seed {seed}", flush=True)
    print("reproduce: " + shlex.join(["scripts/fuzz_api.py", *_replay_args(args, seed)]))
    return subprocess.call(command, cwd=ROOT, env=env)


def _replay_args(args: argparse.Namespace, seed: int) -> list[str]:
    replay = ["--examples", str(args.examples), "--seed", str(seed)]
    if args.database != "both":
        replay += ["--database", args.database]
    if args.no_coverage_phase:
        replay.append("--no-coverage-phase")
    return replay + (["--", *args.pytest_args] if args.pytest_args else [])


if __name__ == "__main__":
    sys.exit(main())
