"""The shape of the code, checked on its syntax trees (no database, no imports run):

- no function outside tests, benchmarks and migrations runs past 60 lines, except the few
  in ``LONG_FUNCTIONS`` that are being split (the list only shrinks: an entry whose function
  is short now fails too, so it is removed the day the split lands);
- dependencies point down: the engine (``syncing``) never imports ``config`` or a domain
  app, and no service imports a serializer;
- settings have one home: every ``settings.X`` the code reads is defined in
  config/settings.py, and nobody restates a default with ``getattr(settings, "X", default)``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "syncing", "calendars", "market", "alarms")
DOMAINS = ("calendars", "market", "alarms")
MAX_FUNCTION_LINES = 60

# (file, function) still longer than MAX_FUNCTION_LINES, each being split in its own change.
# Remove an entry when its function is split; add none.
LONG_FUNCTIONS: set[tuple[str, str]] = set()


def _sources(*packages: str) -> list[Path]:
    files = []
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            files.append(path)
    return files


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _long_functions() -> dict[tuple[str, str], int]:
    found = {}
    for path in _sources(*APPS) + sorted(ROOT.glob("*.py")):
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found[(_relative(path), node.name)] = lines
    return found


def test_no_function_runs_past_60_lines():
    long = _long_functions()
    new = {key: lines for key, lines in long.items() if key not in LONG_FUNCTIONS}
    assert not new, (
        f"functions over {MAX_FUNCTION_LINES} lines (split them into named steps): "
        + ", ".join(f"{path} {name} ({lines})" for (path, name), lines in sorted(new.items()))
    )


def test_the_allow_list_of_long_functions_only_shrinks():
    long = _long_functions()
    split = sorted(key for key in LONG_FUNCTIONS if key not in long)
    assert not split, (
        "these functions are short now: remove them from LONG_FUNCTIONS: "
        + ", ".join(f"{path} {name}" for path, name in split)
    )


def _imported_modules(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every import, relative ones excluded (none in this codebase)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _top(module: str) -> str:
    return module.split(".", 1)[0]


@pytest.mark.parametrize("path", _sources("syncing"), ids=_relative)
def test_the_engine_imports_neither_config_nor_a_domain(path):
    wrong = [
        f"line {line}: {module}"
        for line, module in _imported_modules(_tree(path))
        if _top(module) in ("config", *DOMAINS)
    ]
    assert not wrong, f"{_relative(path)} imports above the engine: {wrong}"


def test_the_fetcher_imports_no_service():
    """The fetcher (and its helpers) sit below the engine's services, never above them."""
    paths = [ROOT / "syncing" / "fetcher.py", *sorted((ROOT / "syncing" / "fetching").glob("*.py"))]
    wrong = [
        f"{_relative(path)}:{line} {module}"
        for path in paths
        for line, module in _imported_modules(_tree(path))
        if module.startswith("syncing.services")
    ]
    assert not wrong, f"the fetcher imports services: {wrong}"


def test_no_service_imports_a_serializer():
    wrong = []
    for path in _sources(*APPS):
        relative = _relative(path)
        if "/services/" not in f"/{relative}" and not relative.endswith("/services.py"):
            continue
        for line, module in _imported_modules(_tree(path)):
            if "serializers" in module.split("."):
                wrong.append(f"{relative} line {line}: {module}")
    assert not wrong, f"services import serializers: {wrong}"


def test_no_domain_imports_another():
    wrong = []
    for domain in DOMAINS:
        others = set(DOMAINS) - {domain}
        for path in _sources(domain):
            for line, module in _imported_modules(_tree(path)):
                if _top(module) in others:
                    wrong.append(f"{_relative(path)} line {line}: {module}")
    assert not wrong, f"a domain imports another: {wrong}"


# getattr(settings, "X", default) calls left, each in a module being changed elsewhere.
# Remove an entry when its call becomes settings.X; add none.
SETTINGS_GETATTR: set[tuple[str, str]] = set()


def _settings_reads(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(names read as settings.X, names read as getattr(settings, "X", ...))."""
    direct, defaulted = set(), set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "settings"
            and node.attr.isupper()
        ):
            direct.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "settings"
            and isinstance(node.args[1], ast.Constant)
        ):
            defaulted.add(node.args[1].value)
    return direct, defaulted


def test_settings_are_defined_once_and_read_directly():
    from django.conf import settings

    undefined, restated = [], set()
    for path in _sources("syncing", "calendars", "market", "alarms"):
        direct, defaulted = _settings_reads(_tree(path))
        missing = sorted(name for name in direct if not hasattr(settings, name))
        undefined += [f"{_relative(path)}: {name}" for name in missing]
        restated |= {(_relative(path), name) for name in defaulted}
    assert not undefined, f"settings read but not defined in config/settings.py: {undefined}"
    assert restated <= SETTINGS_GETATTR, (
        "read settings.X (config/settings.py defines every setting), not getattr with a "
        f"default: {sorted(restated - SETTINGS_GETATTR)}"
    )
    assert restated >= SETTINGS_GETATTR, (
        f"remove from SETTINGS_GETATTR (now read directly): {sorted(SETTINGS_GETATTR - restated)}"
    )


def test_every_path_of_the_readme_map_exists():
    """README's "Where things live" answers each question with a file that is there."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where things live", 1)[1].split("\n## ", 1)[0]
    paths = re.findall(r"`([a-z_]+/[a-z_/.0-9]*)`", section)
    assert len(paths) >= 15
    missing = [path for path in paths if not (ROOT / path).exists()]
    assert not missing, f"README's map names files that are not there: {missing}"
