"""The docs stay true to the code: port tables match `brgpu ports`, links resolve."""

import re

from sim.runner import project_root
from synth.cli import render_port_tables


def test_port_tables_are_current():
    for path in sorted((project_root() / "docs").glob("*.md")):
        text = path.read_text()
        assert render_port_tables(text) == text, f"{path.name}: run `brgpu docs`"


def test_readme_links_resolve():
    root = project_root()
    readme = (root / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if "://" not in target:
            assert (root / target).exists(), f"README links to missing {target}"
