"""hw3.authoring.notebook: the homework notebook is the stub, a notebook's code cells make a homework.py
(without what only Jupyter runs), and the checks grade a notebook, broken ones included."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import nbformat
import pytest
from submissions import SOLUTIONS, grade, make_submission

from hw3.grading.target import resolve
from hw3 import catalogue
from hw3.authoring import notebook, stubs

COURSE = catalogue.load()


def code_notebook(*sources: str, markdown: str = "Some notes") -> nbformat.NotebookNode:
    cells = [nbformat.v4.new_markdown_cell(markdown), *map(nbformat.v4.new_code_cell, sources)]
    return nbformat.v4.new_notebook(cells=cells)


def test_homework_notebook_holds_the_questions_and_the_stub():
    built = notebook.homework_notebook()
    nbformat.validate(built)
    markdown = "\n".join(c.source for c in built.cells if c.cell_type == "markdown")
    code = [c.source for c in built.cells if c.cell_type == "code"]
    for question in COURSE.questions:
        assert f"### {question.id}. {question.title}" in markdown
        assert question.task.splitlines()[-1] in markdown
    assert "<!--" not in markdown  # neither "made by hw3 stubs" nor cell breaks
    assert "--target homework/homework.ipynb" in markdown
    assert code == stubs.split_cells(stubs.render_stub("homework.py"))
    assert [c.cell_type for c in built.cells].index("code") == len(built.cells) - len(code)  # questions first
    assert built.metadata.kernelspec.name == "python3"


def test_homework_notebook_is_the_same_every_time(tmp_path):
    first = notebook.write(notebook.homework_notebook(), tmp_path / "a.ipynb").read_bytes()
    second = notebook.write(notebook.homework_notebook(), tmp_path / "b.ipynb").read_bytes()
    assert first == second
    assert [cell["id"] for cell in json.loads(first)["cells"]][:2] == ["cell-1", "cell-2"]


def test_the_stub_notebook_converts_back_to_the_stub():
    script = notebook.to_script(notebook.homework_notebook())
    assert stubs.split_cells(script) == stubs.split_cells(stubs.render_stub("homework.py"))


def test_a_python_file_round_trips_through_a_notebook():
    text = (SOLUTIONS / "homework.py").read_text(encoding="utf-8")
    future = "from __future__ import annotations\n"
    assert future in text
    script = notebook.to_script(notebook.from_script(text))
    assert script == f"{future}# %%\n{text.strip().replace(future, '')}\n"


def test_future_imports_move_to_the_top():
    script = notebook.to_script(code_notebook("!pip install pandas", '"""Doc."""\nfrom __future__ import annotations\nx: undefined = 1'))
    assert script.startswith("from __future__ import annotations\n# %%\n")
    namespace: dict = {}
    exec(compile(script, "homework.py", "exec"), namespace)
    assert namespace["x"] == 1


def test_jupyter_only_lines_are_skipped_with_their_indentation():
    built = code_notebook(
        "!pip install prefect\n%load_ext autoreload\nfiles = !ls\nx = 1",
        "%%bash\necho hello > /tmp/should-not-run",
        "%%time\ny = x + 1",
        "if y:\n    %time z = 3\n    !echo no\nresult = (x, y)",
        "   \n",
        "%%writefile other.py\nprint('nope')",
    )
    built.cells.append(nbformat.v4.new_raw_cell("raw = 'not code'"))
    script = notebook.to_script(built)
    ast.parse(script)
    namespace: dict = {}
    exec(compile(script, "homework.py", "exec"), namespace)
    assert namespace["result"] == (1, 2) and "z" not in namespace and "raw" not in namespace
    assert "echo hello" not in script.replace("# a %%bash cell", "")
    assert script.count("# %%\n") == 5  # the blank cell and the markdown/raw cells are dropped
    assert "    pass  # a notebook-only line, skipped: !echo no" in script.splitlines()


@pytest.mark.parametrize(
    "content, expected",
    [
        ("{not json", "homework.ipynb is not a valid Jupyter notebook"),
        ("[]", "homework.ipynb is not a valid Jupyter notebook"),
        (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}),
         "homework.ipynb is not a valid Jupyter notebook"),
    ],
    ids=["not-json", "a-list", "cell-without-source"],
)
def test_a_broken_notebook_is_refused_with_a_reason(tmp_path, content, expected):
    path = tmp_path / "homework.ipynb"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(notebook.NotebookError, match=expected) as caught:
        notebook.read(path)
    assert "save it again" in str(caught.value)


def test_the_target_stages_a_notebook_without_touching_its_folder(tmp_path):
    folder = make_submission(tmp_path / "submission")
    notebook.write(notebook.from_script((folder / "homework.py").read_text(encoding="utf-8")), folder / "homework.ipynb")
    (folder / "homework.py").unlink()
    before = sorted(p.name for p in folder.iterdir())
    staged, notes = resolve(str(folder / "homework.ipynb"), tmp_path / "default", tmp_path / "staging")
    assert staged == tmp_path / "staging" and notes == []
    assert sorted(p.name for p in staged.iterdir()) == ["answers.toml", "deployment.py", "homework.py"]
    assert sorted(p.name for p in folder.iterdir()) == before
    copy, _ = resolve(str(folder), tmp_path / "default", tmp_path / "copy")
    assert sorted(p.name for p in copy.iterdir()) == before
    with pytest.raises(ValueError, match="no such folder or .ipynb notebook"):
        resolve(str(folder / "answers.toml"), tmp_path / "default", tmp_path / "unused")


def test_the_staged_copy_of_a_broken_notebook_raises_the_reason(tmp_path):
    (tmp_path / "homework.ipynb").write_text("{not json", encoding="utf-8")
    staged, _ = resolve(str(tmp_path / "homework.ipynb"), tmp_path, tmp_path / "staging")
    done = subprocess.run([sys.executable, "-c", "import homework"], cwd=staged, capture_output=True, text=True)
    assert done.returncode == 1
    assert "NotebookError: homework.ipynb is not a valid Jupyter notebook" in done.stderr


def test_the_checks_grade_a_broken_notebook_on_the_questions_that_need_it(prefect_api_url, tmp_path):
    folder = make_submission(tmp_path / "submission")
    (folder / "homework.py").unlink()
    (folder / "homework.ipynb").write_text('{"cells": [', encoding="utf-8")
    run = grade(folder / "homework.ipynb", tmp_path / "work", prefect_api_url, "-k", "q1 or q6")
    q1 = run.question("Q1")
    # the flow part is lost with the notebook's reason; the answer part stands on answers.toml
    assert q1["score"] == COURSE["Q1"].part("answer").points and "NotebookError: homework.ipynb is not a valid Jupyter notebook" in q1["output"]
    assert run.question("Q6")["score"] == COURSE["Q6"].points
    assert "Traceback" not in run.output
