"""What the checks of the 2023 homework read from a submission's code before it runs, by its
meaning rather than our spelling: the flow that trains the model (any function name, any
`@flow(name=...)`, in any file), which of its parameters take the two months, the scripts
that save an email block, and the Prefect 2.10 idioms, each named with the Prefect 3 way.

Nothing here imports the student's code: it reads the copy of the submission (hw3/submission.py)
with `ast`, and the session runs what it finds in the sandbox.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from hw3.sandbox.compat import SQUARED_NOTE

MAIN_FILE = "orchestrate.py"
TRAINS = re.compile(r"\b(xgb\.train|xgboost\.train|\.fit\(|train_best_model|train_model)")
PATH_WORDS = re.compile(r"path|file|data|url|parquet|train|val|test")
NOT_PATH_WORDS = re.compile(r"notif|email|mail|block|color|colour|year|month|taxi|type|model|param|experiment|uri")
NOTIFY_WORDS = re.compile(r"notif|email|mail|recipient")
ABSOLUTE = re.compile(r"^(/|[A-Za-z]:[\\/]|~)")


@dataclass(frozen=True)
class FlowFunction:
    """A function decorated with @flow in a file of the submission."""

    file: str  # its name, relative to the submission
    function: str
    name: str  # the flow's name on the server: `@flow(name=...)`, else the function's with dashes
    line: int
    parameters: tuple[str, ...]
    defaults: dict  # parameter -> its default, where a literal
    trains: bool  # its file trains a model
    makes_artifact: bool  # its file calls create_markdown_artifact
    calls: frozenset[str] = frozenset()  # the names it calls

    @property
    def entrypoint(self) -> str:
        return f"{self.file}:{self.function}"

    def month_parameters(self) -> tuple[str, str] | None:
        """(training, validation) parameter names, when the flow takes the months' paths."""
        paths = [p for p in self.parameters if PATH_WORDS.search(p.lower()) and not NOT_PATH_WORDS.search(p.lower())]
        if len(paths) < 2:
            return None
        train = next((p for p in paths if "train" in p.lower()), paths[0])
        val = next((p for p in paths if p != train and re.search("val|test", p.lower())), next(p for p in paths if p != train))
        return train, val

    def notify_parameter(self) -> str | None:
        return next((p for p in self.parameters if NOTIFY_WORDS.search(p.lower())), None)



@dataclass
class Code:
    """The submission's code, read."""

    flows: list[FlowFunction] = field(default_factory=list)
    email_scripts: list[str] = field(default_factory=list)  # files that save an EmailServerCredentials block
    email_calls: list[bool] = field(default_factory=list)  # per call of email_send_message: whether in an `except`
    broken: dict[str, str] = field(default_factory=dict)  # file -> why it cannot be read
    absolute_paths: list[tuple[str, int]] = field(default_factory=list)  # (file, line) of a data path of the student's machine

    def sends_only_on_failure(self) -> bool:
        """Whether every use of email_send_message is in an `except` branch (mail on failure only)."""
        return bool(self.email_calls) and all(self.email_calls)

    def flow_at(self, entrypoint: str | None) -> FlowFunction | None:
        """The flow an entrypoint names, matched by file name wherever its path points (the
        student's repository had other folders than the submission)."""
        if not entrypoint or ":" not in entrypoint:
            return None
        path, function = entrypoint.rsplit(":", 1)
        return next((f for f in self.flows if f.function == function.strip() and f.file == Path(path).name), None)

    def trainer(self, preferred: FlowFunction | None = None) -> FlowFunction | None:
        """The flow to run: `preferred` (the student's deployment's), else a flow of the main
        file that trains, else of any file that does: of those, the last one that no other
        flow of its file calls (an email subflow is called by the main flow)."""
        if preferred is not None:
            return preferred
        trainers = [f for f in self.flows if f.trains]
        ordered = [f for f in trainers if f.file == MAIN_FILE] or trainers
        top = [f for f in ordered if not any(f.function in o.calls for o in ordered if o is not f and o.file == f.file)]
        return (top or ordered)[-1] if ordered else None

    def artifact_flow(self, run: FlowFunction | None) -> FlowFunction | None:
        """A second flow to run for Q4 when the flow run does not make the artifact: a trainer
        flow of another file (a copy of the script, such as orchestrate_2.py) that does."""
        if run is None or run.makes_artifact:
            return None
        return next((f for f in self.flows if f.trains and f.makes_artifact and f.file != run.file), None)


def _literal(node):
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None


def _flow_decorator(decorator) -> ast.AST | None:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
    return decorator if name == "flow" else None


def read(folder: Path) -> Code:
    """Read every top-level .py file of the submission's copy."""
    code = Code()
    for path in sorted(Path(folder).glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8-sig")
            tree = ast.parse(text, filename=path.name)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as exc:
            code.broken[path.name] = f"{type(exc).__name__}: {exc}"
            continue
        trains, artifact = bool(TRAINS.search(text)), "create_markdown_artifact" in text
        code.absolute_paths += [(path.name, n.lineno) for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                                and ABSOLUTE.match(n.value) and (".parquet" in n.value or "data" in n.value)]
        if "EmailServerCredentials" in text and ".save(" in text:
            code.email_scripts.append(path.name)
        handled = {id(n) for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler) for n in ast.walk(h)}
        code.email_calls += [id(n) in handled for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "email_send_message"
                             and not isinstance(getattr(n, "ctx", None), ast.Store)]
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            decorator = next((d for d in map(_flow_decorator, node.decorator_list) if d is not None), None)
            if decorator is None:
                continue
            name = next((_literal(k.value) for k in getattr(decorator, "keywords", []) if k.arg == "name"), None)
            args = node.args.args + node.args.kwonlyargs
            defaults = dict(zip([a.arg for a in node.args.args][len(node.args.args) - len(node.args.defaults):],
                                map(_literal, node.args.defaults)))
            defaults |= {a.arg: _literal(d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None}
            calls = frozenset(c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name))
            code.flows.append(FlowFunction(path.name, node.name, name if isinstance(name, str) else node.name.replace("_", "-"),
                                           node.lineno, tuple(a.arg for a in args), defaults, trains, artifact, calls))
    return code


# -- Prefect 2.10 idioms ----------------------------------------------------------------------

IDIOMS = (
    (re.compile(r"prefect\.projects\.steps\.(\w+)"), "`prefect.projects.steps.{0}` is Prefect 2.10's",
     "Prefect 3 calls it `prefect.deployments.steps.{0}`"),
    (re.compile(r"prefect project init"), "`prefect project init` is Prefect 2.10's", "Prefect 3 writes prefect.yaml with `prefect init`"),
    (re.compile(r"Deployment\.build_from_flow|Deployment\("), "`Deployment.build_from_flow` / `Deployment(...).apply()` is Prefect 2's",
     "Prefect 3 deploys with `flow.deploy(...)`, `flow.to_deployment(...)` or the `deployments:` of prefect.yaml"),
    (re.compile(r"prefect agent"), "`prefect agent` is Prefect 2's", "Prefect 3 runs deployments with a work pool and `prefect worker start --pool NAME`"),
    (re.compile(r"prefect\.orion|prefect orion"), "`prefect.orion` / `prefect orion` is Prefect 2's",
     "Prefect 3 names it `prefect.server` (`prefect server start`)"),
)
# Library drift in lines the course gave: named, bridged in each flow run (hw3/sandbox/drift.py), never charged.
DRIFT = (
    (re.compile(r"squared\s*=\s*False"), SQUARED_NOTE),
    (re.compile(r"set_tracking_uri\(\s*[\"']https?://"), "`mlflow.set_tracking_uri` {where} names a tracking server of your "
     "machine: the checks tracked to a SQLite store in the run's folder instead (`sqlite:///mlflow.db`), at no cost"),
)
IDIOM_SUFFIXES = (".py", ".yaml", ".yml", ".md", ".txt", ".sh")


def idioms(folder: Path) -> list[str]:
    """Each Prefect 2.10 idiom in the submission's files, with its file and line and the
    Prefect 3 way: notes, at no cost of their own (what they break costs its own part); and
    each line of the course that newer libraries broke, bridged at no cost (DRIFT)."""
    found = []
    for path in sorted(Path(folder).iterdir()):
        if not path.is_file() or path.suffix not in IDIOM_SUFFIXES:
            continue
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(lines, start=1):
            if path.suffix == ".py":
                found += [note.format(where=f"({path.name}, line {number})") for pattern, note in DRIFT if pattern.search(line)]
            for pattern, old, new in IDIOMS:
                match = pattern.search(line)
                if match:
                    groups = match.groups() or ("",)
                    found.append(f"{old.format(*groups)} ({path.name}, line {number}): {new.format(*groups)}")
    return found
