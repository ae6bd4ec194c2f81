"""The homework as a Jupyter notebook, and a notebook's code as a Python file.

`homework_notebook()` builds the notebook of an assignment's main file (its first Python
stub: `homework.ipynb` for `homework.py`) from the same renderings as the stubs: the cells of
HOMEWORK.md become markdown cells, the cells of the main file code cells
(`hw3.authoring.stubs.split_cells`). `to_script()` turns a notebook back into the text of the main file
that the checks grade: the code cells in order, each after a `# %%` line,
with what only Jupyter understands (`!shell` lines, `%magic` lines, non-Python cell magics)
replaced by `pass`, and `from __future__` imports moved to the top.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from hw3 import catalogue as catalogue_module
from hw3.catalogue import Catalogue
from hw3.errors import Hw3Error
from hw3.authoring.stubs import render_homework_md, render_stub, split_cells, template_path

INTRO_FILE = "notebook_intro.md"
CELL_BREAK = "# %%"
# Cell magics whose body is Python: the magic line is dropped, the body kept.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
# A line that only IPython runs: `!cmd`, `%magic`, `name = !cmd`, `name = %magic`.
IPYTHON_LINE = re.compile(r"^(\s*)(?:[A-Za-z_][\w.]*\s*=\s*)?[!%]")
FUTURE_IMPORT = re.compile(r"from\s+__future__\s+import\b")
_LEADING_COMMENT = re.compile(r"\A\s*<!--.*?-->\s*", re.DOTALL)
_METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}


class NotebookError(Hw3Error):
    """A file that is not a readable Jupyter notebook."""


def _numbered(cells: list) -> list:
    """Give cells stable ids, so that the same homework renders to the same file."""
    for number, cell in enumerate(cells, start=1):
        cell.id = f"cell-{number}"
    return cells


def notebook_name(main_file: str) -> str:
    """The notebook that stands for the main file: homework.py -> homework.ipynb."""
    return Path(main_file).with_suffix(".ipynb").name


def homework_notebook(cat: Catalogue | None = None, assignment=None) -> nbformat.NotebookNode:
    """The homework as a notebook: HOMEWORK.md's sections, the assignment's notebook intro
    (if its templates have one), then the main file's stub code."""
    cat = cat or catalogue_module.load()
    markdown = split_cells(render_homework_md(cat, assignment))
    markdown[0] = _LEADING_COMMENT.sub("", markdown[0])  # "made by hw3 stubs": not true here
    intro = template_path(INTRO_FILE, assignment)
    texts = [*markdown, *([intro.read_text(encoding="utf-8").strip()] if intro.is_file() else [])]
    cells = [nbformat.v4.new_markdown_cell(text) for text in texts]
    cells += [nbformat.v4.new_code_cell(code) for code in split_cells(render_stub(cat.main_file, cat, assignment))]
    notebook = nbformat.v4.new_notebook(cells=_numbered(cells), metadata=_METADATA)
    nbformat.validate(notebook)
    return notebook


def from_script(text: str) -> nbformat.NotebookNode:
    """A notebook of code cells, one per `# %%` section of a Python file."""
    cells = _numbered([nbformat.v4.new_code_cell(code) for code in split_cells(text)])
    return nbformat.v4.new_notebook(cells=cells, metadata=_METADATA)


def write(notebook: nbformat.NotebookNode, path: Path) -> Path:
    nbformat.write(notebook, str(path))
    return path


def read(path: Path, text: str | None = None) -> nbformat.NotebookNode:
    """Read and validate a notebook (`text`: its content, already read); NotebookError says
    what is wrong with it."""
    fix = "open it in Jupyter and save it again, or grade the homework.py instead"
    try:
        notebook = nbformat.reads(text, as_version=4) if text is not None else nbformat.read(str(path), as_version=4)
        nbformat.validate(notebook)
    except OSError as exc:
        raise NotebookError(f"{path}: cannot read it ({exc.strerror})") from exc
    except (ValueError, nbformat.ValidationError, KeyError, TypeError, AttributeError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise NotebookError(f"{path.name} is not a valid Jupyter notebook ({detail}); {fix}") from exc
    return notebook


def _python_lines(source: str) -> list[str]:
    """A code cell's lines with IPython-only syntax replaced by `pass` (same indentation)."""
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip())
    head = lines[start].split()[0]
    if head.startswith("%%"):
        if head[2:] not in PYTHON_CELL_MAGICS:
            return [f"pass  # a {head} cell is not Python: skipped"]
        lines = lines[start + 1:]
    return [
        f"{match.group(1)}pass  # a notebook-only line, skipped: {line.strip()}"
        if (match := IPYTHON_LINE.match(line)) else line
        for line in lines
    ]


def to_script(notebook: nbformat.NotebookNode) -> str:
    """The Python file made of a notebook's code cells, in order."""
    sections = [
        [CELL_BREAK, *_python_lines(cell.source)]
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.source.strip()
    ]
    # Jupyter accepts `from __future__` in any cell; a Python file only at its top.
    future = [line for lines in sections for line in lines if FUTURE_IMPORT.match(line)]
    sections = [[line for line in lines if not FUTURE_IMPORT.match(line)] for lines in sections]
    head = "".join(f"{line}\n" for line in future)
    return head + "\n\n".join("\n".join(lines) for lines in sections) + "\n"
