"""docs/BENCHMARKS.md sections, shared by the bench/report_*.py scripts.

Each script owns one section between `<!-- BEGIN name -->` and `<!-- END name -->`; writing
it replaces only that block (text around the markers and other sections stay), or appends
it under `## title` when the markers are not there yet.
"""
import os
import re

BENCHMARKS_HEADER = """# Benchmarks

Measured figures only. Every figure carries the command that produced it, the machine, the
date and the commit. Speed is judged side by side with peers run in the same session on the
same machine and inputs (docs/DESIGN.md, Measuring); GPU figures come from the GPU machine
only, with the card named.

Each section is written by a script in `bench/` between `<!-- BEGIN name -->` and
`<!-- END name -->`; a run replaces only its own section, so text around the markers
(and other sections) stays.
"""


def replace_section(md_path, body, section, title):
    begin, end = f"<!-- BEGIN {section} -->", f"<!-- END {section} -->"
    block = f"{begin}\n{body}\n{end}"
    text = ""
    if os.path.exists(md_path):
        with open(md_path) as f:
            text = f.read()
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text,
                      flags=re.S)
    else:
        if not text:
            text = BENCHMARKS_HEADER
        text = text.rstrip("\n") + f"\n\n## {title}\n\n{block}\n"
    os.makedirs(os.path.dirname(os.path.abspath(md_path)), exist_ok=True)
    with open(md_path, "w") as f:
        f.write(text)
