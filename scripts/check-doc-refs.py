#!/usr/bin/env python3
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the code references of docs/vendor-behaviour.md and docs/ARCHITECTURE.md against HEAD.

A reference is a backquoted repository path (``plugins/...``, ``roles/...``, ``tests/...``, a
path relative to ``plugins/`` or ``roles/``, a file name found once in the repository, ``SI/...``
for ``tests/standin/qube_standin/``), optionally with ``:name`` (function, class, ``Class.method``,
constant) or ``::test_name``, and the backquoted names that follow it directly (``path`` ``name``,
``name``, option ``name``, ``::test_other``, a quoted task name), plus ``module.name`` for a
module of ``plugins/module_utils``. Names inside parentheses, vendor doc paths (CPR, CLI, KB, ...)
and host paths are not code references and are skipped.

Each reference is checked in the file as committed at HEAD (``git show HEAD:<path>``): the file
exists; a Python name is defined (def, class, assignment, DOCUMENTATION option, RETURN key); a
test is defined; any other name or task name occurs in the file. Exit 1 with one line per missing
reference.

Usage: scripts/check-doc-refs.py [--worktree] [doc.md ...]   (--worktree: check the working tree)
"""

import ast
import fnmatch
import os
import re
import subprocess
import sys

DOCS = ("docs/vendor-behaviour.md", "docs/ARCHITECTURE.md")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPAN = re.compile(r"`([^`\n]+)`|\"((?:[^\"\\\n]|\\.)+)\"")
NAME = re.compile(r"^(?:::)?[A-Za-z_*][\w*]*(?:\.[A-Za-z_*][\w*]*)*(?:\(\))?$")
# Text allowed between a reference and a name that belongs to it.
JOINER = re.compile(r"^(?:\s|,|/|\+|options?|and|task|tasks|class|function|constant|\{|\})*$")


class Repo:
    def __init__(self, worktree):
        self.worktree = worktree
        out = subprocess.run(["git", "ls-files"] if worktree else ["git", "ls-tree", "-r", "--name-only", "HEAD"],
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
        self.files = set(out.split())
        self.dirs = {os.path.dirname(f) for f in self.files}
        for d in list(self.dirs):
            while d:
                d = os.path.dirname(d)
                self.dirs.add(d)
        self.top = {f.split("/")[0] for f in self.files if "/" in f}
        self.by_base = {}
        for f in self.files:
            self.by_base.setdefault(os.path.basename(f), []).append(f)
        self._text, self._names = {}, {}
        self.checks = 0

    def text(self, path):
        if path not in self._text:
            if self.worktree:
                with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
                    self._text[path] = handle.read()
            else:
                self._text[path] = subprocess.run(["git", "show", "HEAD:" + path], cwd=ROOT, check=True,
                                                  capture_output=True, text=True).stdout
        return self._text[path]

    def exists(self, path):
        self.checks += 1
        path = path.rstrip("/")
        if "*" in path:
            return any(fnmatch.fnmatch(f, path) for f in self.files)
        return path in self.files or path in self.dirs

    def resolve(self, path):
        """Repository paths a doc path stands for, or None when it is no repository path."""
        if path.startswith("SI/"):
            return ["tests/standin/qube_standin/" + path[3:]]
        brace = re.search(r"\{([^{}]*)\}", path)
        if brace:
            found = []
            for alt in brace.group(1).split(","):
                found += self.resolve(path[:brace.start()] + alt + path[brace.end():]) or []
            return found or None
        first = path.split("/")[0]
        if first in self.top or first == "SI":
            return [path]
        for prefix in ("plugins/", "roles/"):
            if first and self.exists(prefix + first):
                return [prefix + path]
        if "/" not in path and re.search(r"\.(py|yml|yaml|sh|ps1|j2|md)$", path):
            if path in self.by_base:
                return sorted(self.by_base[path])
            return None if "*" not in path else None
        return None

    def names(self, path):
        """Names a file defines (Python) or None (any occurrence counts)."""
        if path in self._names:
            return self._names[path]
        names = None
        if path.endswith(".py"):
            names = set()
            tree = ast.parse(self.text(path))

            def walk(node, prefix):
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        names.add(child.name)
                        names.add(prefix + child.name)
                        walk(child, prefix + child.name + ".")
                        continue
                    if isinstance(child, (ast.Assign, ast.AnnAssign)):
                        targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                        for target in targets:
                            for item in ast.walk(target):
                                if isinstance(item, ast.Name):
                                    names.add(item.id)
                                    names.add(prefix + item.id)
                                    if item.id in ("DOCUMENTATION", "RETURN") and isinstance(child.value, ast.Constant):
                                        names.update(_yaml_keys(child.value.value, item.id == "DOCUMENTATION"))
                    walk(child, prefix)

            walk(tree, "")
        self._names[path] = names
        return names

    def has(self, path, name, quoted=False):
        self.checks += 1
        if "*" in name:
            pool = self.names(path)
            if pool is None:
                pool = set(re.findall(r"[\w.]+", self.text(path)))
            return any(fnmatch.fnmatchcase(n, name) for n in pool)
        if quoted:
            return name in self.text(path)
        pool = self.names(path)
        if pool is not None:
            return name in pool
        return re.search(r"(?<![\w.])%s(?![\w])" % re.escape(name), self.text(path)) is not None


def _yaml_keys(text, options_only):
    try:
        import yaml
        data = yaml.safe_load(text) or {}
    except Exception:  # pylint: disable=broad-except
        return set()
    keys = set()

    def options(opts):
        for key, spec in (opts or {}).items():
            keys.add(key)
            if isinstance(spec, dict):
                options(spec.get("suboptions"))
                options(spec.get("contains"))

    if options_only:
        options(data.get("options") if isinstance(data, dict) else None)
    elif isinstance(data, dict):
        options(data)
    return keys


def _outside_parens(line):
    """The line with everything inside parentheses blanked (same length)."""
    out, depth = [], 0
    in_tick = in_quote = False
    for char in line:
        if char == "`" and not in_quote:
            in_tick = not in_tick
        elif char == '"' and not in_tick:
            in_quote = not in_quote
        if in_quote:
            out.append(char)
            continue
        if not in_tick and char == "(":
            depth += 1
        keep = depth == 0
        if not in_tick and char == ")" and depth:
            depth -= 1
        out.append(char if keep else " ")
    return "".join(out)


def check(repo, doc):
    problems = []
    text = repo.text(doc) if not repo.worktree else open(os.path.join(ROOT, doc), encoding="utf-8").read()
    for number, raw in enumerate(text.splitlines(), 1):
        where = "%s:%d" % (doc, number)
        for cell in re.split(r"(?<!\\)\|", _outside_parens(raw)):
            context, last_end = None, 0
            for match in SPAN.finditer(cell):
                between = cell[last_end:match.start()]
                last_end = match.end()
                joined = context is not None and JOINER.match(between)
                if ";" in between or not joined:
                    context = None
                if match.group(2) is not None:
                    # A quoted task name directly after a file names something in that file.
                    if context and between.strip() == "" and context[0].endswith((".yml", ".yaml")):
                        name = match.group(2).replace("\\|", "|")
                        for path in context:
                            if not repo.has(path, name, quoted=True):
                                problems.append('%s: %s: no "%s"' % (where, path, name))
                    continue
                span = match.group(1).strip()
                if re.match(r"^[\w.*{},/-]+(?::[\w.*]+|::[\w*]+)?$", span) and "/" in span.split(":")[0] \
                        or re.match(r"^[\w*-]+\.(py|yml|yaml|sh|ps1|j2)(::?[\w.*]+)?$", span):
                    path, _, name = span.partition(":")
                    test = name.startswith(":")
                    name = name.lstrip(":")
                    dotted = re.match(r"^(.+/\w+)\.([A-Za-z_]\w*)$", path)
                    if not name and dotted and dotted.group(2) not in ("py", "yml", "yaml", "sh", "ps1", "j2", "md") \
                            and not repo.exists((repo.resolve(path) or [path])[0]) \
                            and repo.resolve(dotted.group(1) + ".py"):
                        # dir/module.function, as in filter/farm.supervisor_list_items
                        path, name = dotted.group(1) + ".py", dotted.group(2)
                    paths = repo.resolve(path)
                    if paths is None:
                        context = None
                        continue
                    missing = [p for p in paths if not repo.exists(p)]
                    if missing or not paths:
                        problems.append("%s: no file %s" % (where, ", ".join(missing or [path])))
                        context = None
                        continue
                    context = [p for p in paths if p in repo.files or "*" in p]
                    if len(paths) > 1 and name:
                        problems.append("%s: %s is ambiguous (%s)" % (where, path, ", ".join(paths)))
                        continue
                    for p in context:
                        if name and "*" not in p and not repo.has(p, name):
                            problems.append("%s: %s has no %s %s" % (where, p, "test" if test else "name", name))
                    continue
                if re.match(r"^[a-z_]+::[\w*]+$", span):
                    scenario, _, name = span.partition("::")
                    path = "molecule/%s/tests/test_%s.py" % (scenario, scenario)
                    if repo.exists("molecule/" + scenario):
                        if not repo.exists(path):
                            problems.append("%s: no file %s" % (where, path))
                        elif not repo.has(path, name):
                            problems.append("%s: %s has no test %s" % (where, path, name))
                        context = [path]
                    continue
                if not NAME.match(span):
                    context = None
                    continue
                name = span[:-2] if span.endswith("()") else span
                if name.startswith("::"):
                    if context:
                        for p in context:
                            if not repo.has(p, name[2:]):
                                problems.append("%s: %s has no test %s" % (where, p, name[2:]))
                    continue
                head, _, rest = name.partition(".")
                module = "plugins/module_utils/%s.py" % head
                if not rest and ("plugins/modules/%s.py" % name in repo.files or module in repo.files):
                    # a module or module_utils name starts a new reference
                    context = ["plugins/modules/%s.py" % name if "plugins/modules/%s.py" % name in repo.files
                               else module]
                    continue
                if rest and rest != "conf" and module in repo.files:
                    if not repo.has(module, rest):
                        problems.append("%s: %s has no name %s" % (where, module, rest))
                    context = [module]
                    continue
                if context and joined:
                    for p in context:
                        if "*" not in p and p.endswith((".py", ".yml", ".yaml", ".sh", ".ps1", ".j2")) \
                                and not repo.has(p, name):
                            problems.append("%s: %s has no name %s" % (where, p, name))
                    continue
                plugin = "plugins/modules/%s.py" % name
                context = [plugin] if plugin in repo.files else None
    return problems


def main(argv):
    worktree = "--worktree" in argv
    docs = [a for a in argv if not a.startswith("--")] or list(DOCS)
    repo = Repo(worktree)
    problems = []
    for doc in docs:
        problems += check(repo, doc)
    for line in problems:
        print(line)
    print("%s: %d checks, %d missing code reference(s) in %s"
          % ("FAIL" if problems else "ok", repo.checks, len(problems), ", ".join(docs)), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
