"""Read a submission's code before it runs, for what was written for Prefect 2 (or an older
scikit-learn, or MLflow), and say each at once with its file and line and the Prefect 3 way.

Every finding is charged to the part of the question it belongs to (`charge`, e.g.
"Q4.deployment"), or is a note only (`charge` None: a file the checks do not run, MLflow,
a call at import). The probe's compatibility layer (compat.py, turned on by `compat_flags`)
then lets the code run, so an old idiom costs its own part and no other question.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from hw3.sandbox.compat import SQUARED_NOTE, top_level_calls

GRADED_FILES = ("homework.py", "deployment.py")  # the files the checks import
NOTE_SUFFIXES = (".md", ".txt", ".sh", ".py", ".yaml", ".yml")  # a notebook holds the homework text

DEPLOY_WAY = ("in Prefect 3, register the deployment in deployment.py: `main.to_deployment(...)` with a name and the "
              "cron, then `.apply()`, which returns its id (or use `prefect deploy`)")
RESULT_WAY = ("in Prefect 3 calling a task returns its value, so drop `.result()`; `.submit()` returns a future, "
              "as in `{task}.submit(...).result()`")
# (module, name) of a Prefect 2 import -> (the part it is charged to, what to do instead).
# A name of None stands for any name of that module.
PREFECT2_IMPORTS = {
    ("prefect.deployments", "DeploymentSpec"): ("Q4.deployment", DEPLOY_WAY),
    ("prefect.deployments", "Deployment"): ("Q4.deployment", "`Deployment.build_from_flow` is gone; " + DEPLOY_WAY),
    ("prefect.orion", None): ("Q4.deployment", "Prefect 3 has no `prefect.orion`; a cron schedule is `cron=CRON` in "
                              "`main.to_deployment(...)`, or `prefect.schedules.Cron`"),
    ("prefect.flow_runners", None): ("Q4.deployment", "flow runners are gone: a work pool's worker runs a deployment; "
                                     + DEPLOY_WAY),
    ("prefect.infrastructure", None): ("Q4.deployment", "infrastructure blocks are gone: a work pool's worker runs a "
                                       "deployment; " + DEPLOY_WAY),
    ("prefect.task_runners", "SequentialTaskRunner"): ("Q1.flow", "Prefect 3 has no SequentialTaskRunner: drop the "
                                                       "`task_runner` argument; tasks you call directly run one after another"),
    ("prefect.engine", "get_run_logger"): ("Q1.flow", "use `from prefect import get_run_logger`"),
}


@dataclass(frozen=True)
class Finding:
    file: str  # the submission's file, by name
    line: int
    cause: str  # a short label, the same in every submission (a cohort's summary counts them)
    charge: str | None  # "Q1.flow": the part it costs; None: a note only
    message: str  # for the student: what, where, and the Prefect 3 way
    compat: str | None = None  # the probe's compatibility flag that lets it run (compat.py)


def _where(file: str, *lines: int) -> str:
    shown = [str(n) for n in sorted(set(lines))]
    if len(shown) == 1:
        return f"({file}, line {shown[0]})"
    return f"({file}, lines {', '.join(shown[:-1])} and {shown[-1]})"


def _merged(found: list[Finding]) -> list[Finding]:
    """One finding per idiom and file, naming all its lines."""
    groups: dict[tuple, list[Finding]] = {}
    for f in found:
        groups.setdefault((f.file, f.cause, f.charge, f.message.replace(_where(f.file, f.line), "{where}")), []).append(f)
    merged = []
    for (file, _, _, template), same in groups.items():
        first = min(same, key=lambda f: f.line)
        message = template.replace("{where}", _where(file, *(f.line for f in same)))
        merged.append(Finding(file, first.line, first.cause, first.charge, message, first.compat))
    return merged


def _prefect2_rule(module: str, name: str | None):
    for (rule_module, rule_name), rule in PREFECT2_IMPORTS.items():
        in_module = module == rule_module or rule_name is None and module.startswith(rule_module + ".")
        if in_module and (rule_name is None or rule_name == name):
            return rule
    return None


def _imports(tree: ast.Module, file: str, graded: bool) -> list[Finding]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            pairs = [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            pairs = [(alias.name, None) for alias in node.names]
        else:
            continue
        for module, name in pairs:
            label = f"{module}.{name}" if name else module
            if module == "mlflow" or module.startswith("mlflow."):
                found.append(Finding(file, node.lineno, "uses MLflow", None,
                                     f"this homework doesn't use MLflow: remove those lines {_where(file, node.lineno)}; "
                                     "the checks ran your code with MLflow doing nothing", "mlflow"))
                continue
            rule = _prefect2_rule(module, name)
            if rule:
                charge, way = rule
                found.append(Finding(file, node.lineno, f"written for Prefect 2: {name or module}",
                                     charge if graded else None,
                                     f"written for Prefect 2: `{label}` {_where(file, node.lineno)}; {way}", "prefect2"))
    return found


def _decorated_by(node: ast.expr, name: str) -> bool:
    """Whether a decorator is `name`, `name(...)`, or `prefect.name` (e.g. task, flow)."""
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Name) and target.id == name or isinstance(target, ast.Attribute) and target.attr == name


def _result_calls(tree: ast.Module, file: str, graded: bool) -> list[Finding]:
    """`.result()` on what a direct task call returned: `some_task(x).result()`, or
    `y = some_task(x)` then `y.result()` in the same function."""
    tasks = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and any(_decorated_by(d, "task") for d in n.decorator_list)}

    def task_called(node) -> str | None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in tasks:
            return node.func.id
        return None

    found = []
    for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        values: dict[str, str] = {}
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and task_called(node.value):
                values.update({t.id: task_called(node.value) for t in node.targets if isinstance(t, ast.Name)})
        for node in ast.walk(function):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "result"):
                continue
            receiver = node.func.value
            task = task_called(receiver) or (values.get(receiver.id) if isinstance(receiver, ast.Name) else None)
            if task:
                shown = f"{task}(...).result()" if task_called(receiver) else f"{receiver.id}.result()"
                found.append(Finding(file, node.lineno, "written for Prefect 2: .result() on a task's value",
                                     "Q1.flow" if graded else None,
                                     f"written for Prefect 2: `{shown}` {_where(file, node.lineno)}; "
                                     + RESULT_WAY.format(task=task), "result"))
    return found


def _squared(tree: ast.Module, file: str, graded: bool) -> list[Finding]:
    return [
        Finding(file, node.lineno, "mean_squared_error(squared=False)", None, SQUARED_NOTE.format(where=_where(file, node.lineno)), "squared")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and any(k.arg == "squared" for k in node.keywords)
    ]


def _none_for_a_type(tree: ast.Module, file: str, graded: bool) -> list[Finding]:
    """`def main(date: str = None)`: pydantic 1 (Prefect 2) read it as optional; Prefect 3
    validates a flow's parameters with pydantic 2, which refuses None for `str`."""
    found = []
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and any(_decorated_by(d, "flow") for d in n.decorator_list)):
        args = function.args.args[len(function.args.args) - len(function.args.defaults):]
        for arg, default in zip(args, function.args.defaults):
            text = ast.unparse(arg.annotation) if arg.annotation else ""
            if text and isinstance(default, ast.Constant) and default.value is None and "None" not in text and "Optional" not in text:
                found.append(Finding(file, arg.lineno, "a flow parameter typed without None", "Q1.flow" if graded else None,
                                     f"`{arg.arg}: {text} = None` {_where(file, arg.lineno)}: Prefect 3 checks a flow's parameters "
                                     f"(pydantic 2), and `{text}` refuses None; write `{arg.arg}: {text} | None = None`", "params"))
    return found


def _calls_at_import(tree: ast.Module, file: str) -> list[Finding]:
    return [
        Finding(file, node.lineno, "a call at import without a __main__ guard", None,
                f"`{ast.unparse(node.value)[:60]}` runs whenever {file} is imported {_where(file, node.lineno)}: the checks "
                'skipped it; put it under `if __name__ == "__main__":`')
        for node in top_level_calls(tree, set())
    ]


def _orion_start(text: str, file: str) -> list[Finding]:
    return [
        Finding(file, number, "prefect orion start", None,
                f"`prefect orion` {_where(file, number)} is Prefect 2's; Prefect 3 starts its server with `prefect server start`")
        for number, line in enumerate(text.splitlines(), start=1)
        if "prefect orion" in line
    ]


def scan(folder: Path) -> list[Finding]:
    """Every finding in the submission's files, graded files first, each in line order."""
    found: list[Finding] = []
    files = sorted((p for p in Path(folder).iterdir() if p.is_file() and p.suffix in NOTE_SUFFIXES),
                   key=lambda p: (p.name not in GRADED_FILES, p.name))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue
        found += _orion_start(text, path.name)
        if path.suffix != ".py":
            continue
        try:
            tree = ast.parse(text, filename=path.name)
        except (SyntaxError, ValueError):
            continue  # the probe reports it with its line
        graded = path.name in GRADED_FILES
        found += _imports(tree, path.name, graded) + _result_calls(tree, path.name, graded) + _squared(tree, path.name, graded)
        found += _none_for_a_type(tree, path.name, graded)
        if graded:
            found += _calls_at_import(tree, path.name)
    return sorted(_merged(found), key=lambda f: (f.file not in GRADED_FILES, f.file, f.line))


def compat_flags(findings: list[Finding], folder: Path) -> list[str]:
    """The probe's compatibility flags the submission needs (see compat.py): those of its
    findings, and `result` wherever a graded file calls `.result()` at all (a value may
    reach it in ways no reading of the code can follow)."""
    flags = {f.compat for f in findings if f.compat and f.file in GRADED_FILES}
    for name in GRADED_FILES:
        path = Path(folder) / name
        try:
            if ".result(" in path.read_text(encoding="utf-8-sig", errors="replace"):
                flags.add("result")
        except OSError:
            pass
    return sorted(flags)
