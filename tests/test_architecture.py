"""The layout rules of docs/architecture.md, checked on the source itself.

Imports are read with :mod:`ast` (not by importing), so a rule broken inside a function body is
caught too.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each layer may import only the ones listed after it (and itself); "analyzer" is the package's
# own top-level modules (errors, settings, vocab, result, _version, _files).
LIBRARY = ("intake", "face", "colour", "measure", "recovery", "store", "samples")


def _modules(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts or p.name != "env.py")


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(ROOT).with_suffix("")
    package = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def _layer(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    if parts[0] != "analyzer":
        return parts[0]
    return parts[1].removesuffix(".py") if len(parts) > 1 else "analyzer"


def _bad_imports(paths, forbidden) -> list[str]:
    bad = []
    for p in paths:
        for name in sorted(_imports(p)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{p.relative_to(ROOT)} imports {name}")
    return bad


def test_no_library_module_imports_a_command_line_module():
    library = [p for p in _modules("analyzer") if _layer(p) not in ("cli", "__main__")]
    assert _bad_imports(library, ["analyzer.cli"]) == []


def test_the_library_does_not_import_the_use_cases_or_the_dashboard():
    library = [p for p in _modules("analyzer") if _layer(p) not in ("cli", "__main__", "service", "validate", "ui")]
    assert _bad_imports(library, ["analyzer.service", "analyzer.ui", "streamlit"]) == []


def test_use_cases_do_not_import_front_ends():
    assert _bad_imports(_modules("analyzer/service"), ["analyzer.cli", "analyzer.ui", "streamlit", "argparse"]) == []


def test_the_store_imports_neither_recovery_nor_export():
    # The store is persistence only: rules about courses live in service/, not in store/.
    assert _bad_imports(_modules("analyzer/store"), ["analyzer.service", "analyzer.cli", "analyzer.recovery.series",
                                                     "analyzer.recovery.flags"]) == []


def test_only_ui_imports_streamlit():
    outside = [p for p in _modules("analyzer") if _layer(p) != "ui"] + _modules("bench")
    assert _bad_imports(outside, ["streamlit"]) == []


def test_the_dashboard_is_imported_only_by_the_dashboard_command():
    # analyzer/cli/dashboard.py starts it; no other front end or library module reaches into it.
    others = [p for p in _modules("analyzer") if _layer(p) != "ui" and p.name != "dashboard.py"]
    assert _bad_imports(others, ["analyzer.ui"]) == []


def test_the_import_checker_sees_a_bad_import(tmp_path, monkeypatch):
    # The checker itself: a relative import of the CLI from a library module is found.
    fake = ROOT / "analyzer" / "face" / "_tmp_probe_for_test.py"
    fake.write_text("def f():\n    from ..cli import main\n", encoding="utf-8")
    try:
        assert _bad_imports([fake], ["analyzer.cli"]) == [
            "analyzer/face/_tmp_probe_for_test.py imports analyzer.cli",
            "analyzer/face/_tmp_probe_for_test.py imports analyzer.cli.main",
        ]
    finally:
        fake.unlink()


@pytest.mark.parametrize("folder", ["analyzer", "bench"])
def test_no_module_over_700_lines(folder):
    long = {str(p.relative_to(ROOT)): n for p in _modules(folder)
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 700}
    assert long == {}


def _tracked_text_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    keep = (".py", ".md", ".toml", ".txt", ".sh", ".cfg", ".mako")
    files = [ROOT / f for f in out.splitlines() if f.endswith(keep) or f.startswith(".ci/")]
    return [p for p in files if p.is_file()]


def test_every_reference_stays_inside_the_repository():
    # The science we rely on is in docs/science.md; notes outside the repository are not cited.
    pattern = re.compile(r"SCIENCE\.md|\.\./shared|/work/|STYLE\.md|ARCHITECTURE\.md")
    hits = []
    for p in _tracked_text_files():
        if p.name == "test_architecture.py":
            continue
        for i, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{p.relative_to(ROOT)}:{i}: {line.strip()}")
    assert hits == []


def test_links_to_docs_point_at_files_that_exist():
    # "docs/<name>.md" (with or without an anchor) in code and docs names a file we ship, and an
    # anchor names a heading of it.
    pattern = re.compile(r"docs/([a-z0-9_-]+\.md)(#[a-z0-9-]+)?")
    missing = []
    for p in _tracked_text_files():
        text = p.read_text(encoding="utf-8", errors="replace")
        for m in pattern.finditer(text):
            doc = ROOT / "docs" / m.group(1)
            if not doc.exists():
                missing.append(f"{p.relative_to(ROOT)}: {m.group(0)}")
            elif m.group(2) and m.group(2)[1:] not in _anchors(doc):
                missing.append(f"{p.relative_to(ROOT)}: {m.group(0)} (no such heading)")
    assert missing == []


def _anchors(doc: Path) -> set[str]:
    """GitHub-style anchors of a Markdown file's headings."""
    out = set()
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return out


# --- one owner per fact ------------------------------------------------------------------------

FACTS = {
    # a literal that states the fact -> the one file allowed to write it in analyzer/
    r"0\.2126\b|0\.212671\b": {"analyzer/colour/spaces.py"},
    r"250 */ *255": {"analyzer/settings.py"},
    r"0\.8951\b": {"analyzer/colour/spaces.py"},  # Bradford
    r"0\.04045\b": {"analyzer/colour/spaces.py"},  # the sRGB curve
    r"\.heic\"": {"analyzer/vocab.py"},
    r"QualityCode\(": {"analyzer/vocab.py"},  # the quality codes and their blocking flag
    r"\"no_reliable_photo_in_window\",": {"analyzer/vocab.py"},  # the assessment's reasons, listed once
    r"\(\"info\", \"warning\", \"urgent\"\)": {"analyzer/vocab.py"},
    r"LATER_BASELINE_H *=": {"analyzer/service/courses.py"},
    r"\"highpass_lnY|\"bright_specks": {"analyzer/vocab.py"},
}


def _code(path: Path) -> str:
    """The source without comments and docstrings (which may quote a fact and its owner)."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    doc_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            doc_lines.update(range(node.lineno, node.end_lineno + 1))
    lines = text.splitlines()
    return "\n".join(re.sub(r"#.*$", "", line) for i, line in enumerate(lines, 1) if i not in doc_lines)


def test_code_drops_docstrings_and_comments(tmp_path):
    p = tmp_path / "m.py"
    p.write_text('"""Y = 0.2126 R"""\nX = 1  # 250 / 255\nY = (".heic",)\n', encoding="utf-8")
    assert _code(p) == 'X = 1  \nY = (".heic",)'


@pytest.mark.parametrize("pattern, owners", FACTS.items(), ids=list(FACTS))
def test_each_fact_is_written_once(pattern, owners):
    rx = re.compile(pattern)
    where = {str(p.relative_to(ROOT)) for p in _modules("analyzer")
             if rx.search(_code(p))}
    assert where <= owners, f"{pattern} written outside its owner: {sorted(where - owners)}"
    assert where, f"{pattern}: the owner no longer states it (update this table)"
