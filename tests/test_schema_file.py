"""`schema.graphql` is the exported SDL of the running schema, and follows the contract."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from graphql import build_schema as parse_sdl

from premiumchat.schema.root import build_schema


def test_schema_file_matches_the_code(repo_root: Path) -> None:
    exported = build_schema().as_str() + "\n"
    on_disk = (repo_root / "schema.graphql").read_text()
    assert on_disk == exported, "schema.graphql drifted: run `make schema` (premiumchat export-schema)"


def test_export_schema_prints_only_the_sdl(repo_root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "premiumchat", "export-schema"],
        capture_output=True,
        text=True,
        check=True,
        cwd=repo_root,
    )
    assert result.stdout == (repo_root / "schema.graphql").read_text()


def test_the_schema_follows_the_contract(repo_root: Path) -> None:
    """schema.graphql has every type, field and argument of the contract's main schema, as it says."""
    path = repo_root.parent / "shared" / "tools" / "contract_check.py"
    spec = importlib.util.spec_from_file_location("contract_check", path)
    assert path.exists(), f"{path} is missing"
    assert spec is not None
    assert spec.loader is not None
    contract_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(contract_check)
    ours = parse_sdl((repo_root / "schema.graphql").read_text())
    problems, _ = contract_check.compare(contract_check.contract_schema(), ours)
    assert problems == [], "\n".join(problems)
