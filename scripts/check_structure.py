#!/usr/bin/env python3
"""Structure checks CI runs: no import cycle between sibling modules, and size limits.

Modules are the files of each crate's `src/` tree. At every level of the tree, each child
module (with everything under it) is one node; an edge A -> B means code under A names an
item under its sibling B (`use crate::…`, `super::…`, or a `crate::…` path in code).
A cycle among siblings fails the check, except the pairs listed in ALLOWED: actors that
answer each other through messages. A child naming its own ancestors is not an edge here.

Also fails on a source file over MAX_FILE_LINES lines or a function over MAX_FN_LINES (library,
binary, test and benchmark code alike), and on a module file that README.md's "Concept → file" table does not lead to in one hop: named by path,
under a directory it names (`actors/src/router/`), or listed after one (`actors/src/chromium/:
process, settle`, `validate/ceilings.rs`).
Usage: scripts/check_structure.py [--graph]
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = {"pilothouse_actors": "actors/src", "pilothouse": "src"}
MAX_FILE_LINES = 500
MAX_FN_LINES = 60
# Sibling edges that may close a cycle: actors that answer each other through messages.
ALLOWED = {
    ("finalizer", "supervisor"),
}

PATH = re.compile(r"\b(crate|super(?:::super)*|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super(?:::super)*|self)::\{([^;]*)\};", re.S)
LINE_COMMENT = re.compile(r"//.*")
STRING = re.compile(r'"(?:\\[\s\S]|[^"\\])*"')


def modules(src):
    """Maps each module path (a tuple) to its file."""
    out = {}
    for dirpath, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), src)
            parts = rel[:-3].split(os.sep)
            if "tests" in parts:
                continue  # test modules (`#[cfg(test)] mod tests;`)
            if parts in (["lib"], ["main"]):
                parts = []
            elif parts[-1] == "mod":
                parts = parts[:-1]
            out[tuple(parts)] = os.path.join(dirpath, name)
    return out


def strip(text):
    """Drops strings, comments and the test module (tests name what they like)."""
    cut = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod \w+\s*\{", text, re.M)
    if cut:
        text = text[: cut.start()]
    text = STRING.sub('""', text)
    return "\n".join(LINE_COMMENT.sub("", line) for line in text.splitlines())


def references(module, text, known):
    """Module paths this file names."""
    found = []

    def resolve(head, tail):
        if head == "crate":
            base = []
        elif head == "self":
            base = list(module)
        else:
            base = list(module[: len(module) - head.count("super")])
        path = base + [p for p in tail.split("::") if p]
        # The longest known module prefix.
        for n in range(len(path), -1, -1):
            if tuple(path[:n]) in known:
                return tuple(path[:n])
        return None

    for m in USE_GROUP.finditer(text):
        for item in re.split(r",(?![^{]*\})", m.group(2)):
            item = item.strip().split(" as ")[0]
            if item:
                found.append(resolve(m.group(1), "::" + item.replace("{", "").split(",")[0]))
    for m in PATH.finditer(text):
        found.append(resolve(m.group(1), m.group(2)))
    # `use child::…` / `child::f()` for a child declared in this file.
    for child in re.findall(r"\bmod\s+([a-z_][a-z0-9_]*)\s*;", text):
        if re.search(r"\b%s::" % child, text):
            found.append(tuple(module) + (child,))
    return {f for f in found if f is not None and f != tuple(module)}


def sibling_edges(graph):
    """(parent, a, b) for each edge between two siblings a, b under parent."""
    edges = set()
    for src, dsts in graph.items():
        for dst in dsts:
            n = 0
            while n < min(len(src), len(dst)) and src[n] == dst[n]:
                n += 1
            if n == len(src) or n == len(dst):
                continue  # an ancestor or a descendant
            edges.add((src[:n], src[n], dst[n]))
    return edges


def cycles(edges):
    """Strongly connected components with more than one member, per parent."""
    by_parent = {}
    for parent, a, b in edges:
        if (a, b) in ALLOWED:
            continue
        by_parent.setdefault(parent, {}).setdefault(a, set()).add(b)
    found = []
    for parent, g in sorted(by_parent.items()):
        index, low, stack, on, counter = {}, {}, [], set(), [0]

        def visit(v):
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on.add(v)
            for w in g.get(v, ()):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append((parent, sorted(comp), g))

        for v in sorted(g):
            if v not in index:
                visit(v)
    return found


FN = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)")


def long_functions(path, lines):
    out = []
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m or line.rstrip().endswith(";"):
            continue
        indent = m.group(1)
        for j in range(i + 1, len(lines)):
            if lines[j].startswith(indent + "}") and len(lines[j].rstrip()) == len(indent) + 1:
                if j - i + 1 > MAX_FN_LINES:
                    out.append((path, i + 1, m.group(2), j - i + 1))
                break
    return out


def map_failures():
    """Module files the README's concept → file map does not lead to."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    section = readme.split("## Concept → file", 1)[1].split("\n## ", 1)[0]
    named, dirs = set(), []
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        last = ""
        for m in re.finditer(r"`([^`]+)`(?::([^|()]*))?", line):
            token, listed = m.group(1), m.group(2)
            if "/" in token and not token.startswith(("actors/", "src/", "tests/", "examples/")):
                token = os.path.dirname(last) + "/" + token  # relative to the path before it
            elif "/" in token:
                last = token
            if token.endswith("/"):
                names = [n.strip(" `") for n in (listed or "").split(",") if n.strip(" `")]
                dirs.append((token, names))
            else:
                named.add(token)
    out = []
    for src in CRATES.values():
        for module, path in modules(os.path.join(ROOT, src)).items():
            rel = os.path.relpath(path, ROOT)
            if rel in named:
                continue
            covered = False
            for d, names in dirs:
                if rel.startswith(d):
                    inner = rel[len(d):]
                    covered = not names or any(
                        inner == n or inner.startswith(n.removesuffix(".rs") + (".rs" if not n.endswith(".rs") else ""))
                        or inner.startswith(n.removesuffix(".rs") + "/")
                        for n in names
                    )
                if covered:
                    break
            if not covered:
                out.append(f"{rel}: not in README.md's concept → file map")
    return out


def stale_test_filters():
    """Test names and binaries in nextest's overrides that no longer exist: a renamed test would
    silently lose its override (e.g. running alone), and fail only under load."""
    with open(os.path.join(ROOT, ".config", "nextest.toml"), encoding="utf-8") as f:
        config = f.read()
    tests = os.path.join(ROOT, "tests")
    names, binaries = set(), set()
    for dirpath, _, files in os.walk(tests):
        for name in files:
            if name.endswith(".rs"):
                if dirpath == tests:
                    binaries.add(name.removesuffix(".rs"))
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    names.update(re.findall(r"\bfn\s+(\w+)", f.read()))
    out = []
    for kind, name in re.findall(r"\b(test|binary)\((\w+)\)", config):
        if name not in (names if kind == "test" else binaries):
            out.append(f".config/nextest.toml: {kind}({name}) matches nothing in tests/")
    return out


def main():
    failures = map_failures() + stale_test_filters()
    for crate, src in CRATES.items():
        mods = modules(os.path.join(ROOT, src))
        known = set(mods)
        graph = {}
        for module, path in mods.items():
            with open(path, encoding="utf-8") as f:
                graph[module] = references(module, strip(f.read()), known)
        if "--graph" in sys.argv:
            for (parent, a, b) in sorted(sibling_edges(graph)):
                print(f"{crate}: {'::'.join(parent + (a,))} -> {b}")
        for parent, comp, g in cycles(sibling_edges(graph)):
            where = "::".join(parent) or "crate root"
            links = [f"{a} -> {b}" for a in comp for b in sorted(g.get(a, ())) if b in comp]
            failures.append(f"{crate}: import cycle under {where}: {', '.join(links)}")
    for top in ("actors/src", "src", "tests", "examples"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for name in sorted(files):
                if not name.endswith(".rs"):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, ROOT)
                with open(path, encoding="utf-8") as f:
                    lines = f.read().splitlines()
                if len(lines) > MAX_FILE_LINES:
                    failures.append(f"{rel}: {len(lines)} lines (most {MAX_FILE_LINES})")
                for _, line, fn, n in long_functions(rel, lines):
                    failures.append(f"{rel}:{line}: fn {fn} is {n} lines (most {MAX_FN_LINES})")
    for failure in failures:
        print(failure)
    if failures:
        print(f"{len(failures)} structure problem(s)", file=sys.stderr)
        return 1
    print("structure: no module cycle, no file over its limit, no function over its limit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
