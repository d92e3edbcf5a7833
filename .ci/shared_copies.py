"""The schemas and examples the project ships are byte-for-byte copies of ../shared/schemas.

Run by .ci/run beside the suite: `../shared` sits next to developers' and CI's checkouts,
never in a user's clone, so the test suite cannot read it. Without it this says so and
passes; with it, any difference fails with the file's name.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "schemas"
COPIES = (
    (SHARED, ROOT / "actions" / "drill" / "schemas", "*.json"),
    (SHARED / "examples", ROOT / "tests" / "fixtures" / "schema_examples", "*/*"),
)


def differences() -> list[str]:
    found = []
    for original, copy, pattern in COPIES:
        names = {p.relative_to(original) for p in original.glob(pattern)}
        copied = {p.relative_to(copy) for p in copy.glob(pattern)}
        found += [f"missing from {copy}: {name}" for name in sorted(names - copied)]
        found += [f"not in {original}: {name}" for name in sorted(copied - names)]
        found += [f"differs from {original / name}: {copy / name}"
                  for name in sorted(names & copied)
                  if (original / name).read_bytes() != (copy / name).read_bytes()]
    return found


if __name__ == "__main__":
    if not SHARED.is_dir():
        print(f"{SHARED} is absent: no originals to compare the shipped copies with")
        sys.exit(0)
    problems = differences()
    print("\n".join(problems) or "the shipped schemas and examples are the originals' copies")
    sys.exit(1 if problems else 0)
