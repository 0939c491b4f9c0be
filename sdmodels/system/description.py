"""Read a system description (YAML or TOML) into a validated `SystemSpec`, or list every
problem.

The YAML is composed into nodes (PyYAML's safe loader: no tags, no code), so every value
keeps its line and column (TOML is parsed by tomllib and given the same nodes, with the
positions `sdmodels.system.toml_nodes` finds); each field is read by its schema type
(`sdmodels.system.schema`). All problems are collected and raised together in one
`SystemDescriptionError`, each with its line, column, path, what is wrong, a "did you
mean" for misspelt names, and the allowed values.

>>> spec = load_system('''
... system: shop
... components:
...   users: {kind: traffic, rate: 100/s}
...   api: {kind: service, serviceTime: 50ms}
... calls:
...   - {from: users, to: api, timeout: 1s}
... ''')
>>> spec.components["api"].config["workersPerPod"], spec.calls[0].config["timeout"]
(200.0, 1.0)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from sdmodels.errors import ModelError, did_you_mean
from sdmodels.sources import SYSTEM_FILE_SUFFIXES, existing_file
from sdmodels.system import schema, toml_nodes
from sdmodels.system.quantities import QuantityError
from sdmodels.system.schema import CALL, KINDS, REQUIRED, ListOf, Number, Section


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a description, where it is."""
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.path}: {self.message}"


class SystemDescriptionError(ModelError):
    """A description with problems; `problems` lists them all, in file order."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source, self.problems = source, sorted(problems, key=lambda p: (p.line, p.column))
        count = len(problems)
        super().__init__(f"{source}: {count} problem{'s' * (count != 1)} in the system "
                         "description:\n  " + "\n  ".join(map(str, self.problems)))


@dataclass(frozen=True)
class Component:
    """A component of the system: its kind and its fields with defaults filled in."""
    name: str
    kind: str
    config: Mapping[str, Any]
    line: int


@dataclass(frozen=True)
class Connection:
    """A call from one component to another, with its timeout, retries and breaker."""
    source: str
    target: str
    config: Mapping[str, Any]
    line: int


@dataclass(frozen=True)
class SystemSpec:
    """A validated system description."""
    name: str
    description: str
    components: Mapping[str, Component]
    calls: tuple[Connection, ...]
    source: str = "<text>"

    def of_kind(self, kind: str) -> list[Component]:
        return [c for c in self.components.values() if c.kind == kind]


def load_system(path_or_text, *, toml: bool | None = None) -> SystemSpec:
    """Read a description from a path (``Path`` or a name ending .yaml/.yml/.toml) or text:
    TOML if `toml`, or when None (the default), if its suffix is .toml or its first line is
    a ``key = value`` or a ``[table]``; YAML otherwise."""
    if isinstance(path_or_text, Path) or (isinstance(path_or_text, str) and "\n" not in
                                          path_or_text and path_or_text.endswith(SYSTEM_FILE_SUFFIXES)):
        path = existing_file(path_or_text, "system description")
        try:
            text, source = path.read_text(encoding="utf-8-sig"), str(path)   # BOM: no TOML
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"cannot read system description '{path}': "
                             f"{getattr(exc, 'strerror', None) or exc}") from None
        toml = path.suffix.lower() == ".toml" if toml is None else toml
    else:
        text, source = str(path_or_text), "<text>"
        toml = bool(_TOML_START.match(text)) if toml is None else toml
    return _Reader(source).system(_toml_root(text, source) if toml else _yaml_root(text, source))


#: TOML text: its first line that is not blank or a comment is `key = ...` or `[table]`
_TOML_START = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]*(?:\[|[A-Za-z0-9_.\"' -]+=)")


def _yaml_root(text: str, source: str):
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Problem(mark.line + 1, mark.column + 1, "(document)", str(getattr(
            exc, "problem", exc))) if mark else Problem(1, 1, "(document)", str(exc))
        raise SystemDescriptionError(source, [where]) from None


def _toml_root(text: str, source: str):
    try:
        return toml_nodes.nodes(text)
    except toml_nodes.TomlSyntaxError as exc:
        raise SystemDescriptionError(source, [Problem(exc.line, exc.column, "(document)",
                                                      str(exc))]) from None


class _Reader:
    """Walks the YAML nodes against the schema, collecting problems."""

    def __init__(self, source: str):
        self.source, self.problems = source, []
        self.unknown_ends = False        # a call names a component that is not there

    def problem(self, node, path: str, message: str) -> None:
        mark = node.start_mark if node is not None else None
        self.problems.append(Problem(mark.line + 1 if mark else 1, mark.column + 1 if mark else 1,
                                     path, message))

    # -- the document ------------------------------------------------------------------
    def system(self, root) -> SystemSpec:
        if not isinstance(root, yaml.MappingNode):
            self.problem(root, "(document)", "a system description is a mapping with the "
                         "fields system, description, components and calls")
            raise SystemDescriptionError(self.source, self.problems)
        top = self.fields(root, schema.SYSTEM, "", keep_nodes=True)
        name = _scalar(top["system"]) if "system" in top else ""
        components = self.components(top.get("components"))
        calls = self.calls(top.get("calls"), components)
        if components and not any(c.kind == "traffic" for c in components.values()):
            self.problem(top.get("components"), "components",
                         "no component of kind 'traffic': add one that sends the requests")
        self.wiring(top.get("components"), components, calls)
        if self.problems:
            raise SystemDescriptionError(self.source, self.problems)
        description = _scalar(top["description"]) if "description" in top else ""
        return SystemSpec(str(name), str(description or ""), MappingProxyType(components),
                          tuple(calls), self.source)

    def wiring(self, node, components: dict, calls: list) -> None:
        """Every component but traffic and alerting is called by one (a component nobody
        calls takes no requests: a call missing or misspelt), and a queue calls its
        consumer (it relays messages to a service)."""
        if self.unknown_ends:
            return          # a misspelt end is already listed; what it leaves uncalled is not
        called = {c.target for c in calls}
        calling = {c.source for c in calls}
        for name, c in components.items():
            where = _child(node, name)
            if c.kind not in ("traffic", "alerting") and name not in called:
                self.problem(where, f"components.{name}", f"no call reaches {name} ({c.kind}): "
                             f"add one to calls, e.g. {{from: ..., to: {name}}}, or remove it")
            if c.kind == "queue" and name not in calling:
                self.problem(where, f"components.{name}", f"{name} (queue) has no consumer: "
                             f"add a call from {name} to the service that takes its messages, "
                             f"e.g. {{from: {name}, to: workers}}")

    def components(self, node) -> dict[str, Component]:
        if node is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "components", "expected a mapping of name -> {kind: ..., ...}")
            return {}
        out = {}
        for key, value in node.value:
            name, path = key.value, f"components.{key.value}"
            kind_node = _child(value, "kind")
            kind = kind_node.value if isinstance(kind_node, yaml.ScalarNode) else None
            if kind not in KINDS:
                shown = f"'{kind}' is not a component kind." if kind else "has no 'kind'."
                self.problem(kind_node or value, f"{path}.kind", f"{shown}"
                             f"{did_you_mean(kind or '', KINDS)} Kinds: {', '.join(KINDS)}")
                continue
            fields = Section({"kind": schema.Field(str, REQUIRED, ""), **KINDS[kind].fields})
            config = self.fields(value, fields, path)
            config.pop("kind", None)
            out[name] = Component(name, kind, MappingProxyType(config), key.start_mark.line + 1)
        for component in out.values():
            self.cross_check(component, node)
        for component in out.values():
            if component.kind == "alerting":
                self.alert_rules(component, out, _child(_child(node, component.name), "rules"))
        return out

    def alert_rules(self, alerting: Component, components: dict, rules_node) -> None:
        """Each rule watches a metric its component exposes, and its action acts on a
        component of the kind the action needs (a scale-out on a service with an hpa)."""
        names: dict[str, int] = {}
        for i, rule in enumerate(alerting.config.get("rules") or ()):
            item = rules_node.value[i] if isinstance(rules_node, yaml.SequenceNode) else None
            path = f"components.{alerting.name}.rules[{i}]"
            if rule.get("alert") in names:
                self.problem(_child(item, "alert"), f"{path}.alert", f"'{rule['alert']}' "
                             f"appears twice (first as rules[{names[rule['alert']]}]); give "
                             "each rule its own name")
            names.setdefault(rule.get("alert"), i)
            watched = self.rule_component(rule, "component", components, item, path)
            metrics = schema.ALERT_METRICS.get(watched.kind, {}) if watched else {}
            if watched and not metrics:
                self.problem(_child(item, "component"), f"{path}.component", f"'{watched.name}' "
                             f"is a {watched.kind}, which exposes no metric to alert on; "
                             f"kinds with metrics: {', '.join(schema.ALERT_METRICS)}")
            elif watched and rule.get("metric") is not None and rule["metric"] not in metrics:
                self.problem(_child(item, "metric"), f"{path}.metric",
                             f"'{rule['metric']}' is not a metric of {watched.name} "
                             f"({watched.kind}).{did_you_mean(rule['metric'], metrics)} "
                             f"Metrics of a {watched.kind}: {', '.join(metrics)}")
            action = rule.get("action")
            key = "target" if rule.get("target") is not None else "component"
            target = self.rule_component(rule, key, components, item, path) \
                if key == "target" else watched
            if target is None or action not in schema.ALERT_ACTIONS:
                continue
            kind = schema.ALERT_ACTIONS[action]
            if target.kind != kind:
                self.problem(_child(item, key) or item, f"{path}.{key}",
                             f"action '{action}' acts on a {kind}, and '{target.name}' is a "
                             f"{target.kind}; name a {kind} in 'target'")
            elif action == "scale_out" and target.config.get("hpa") is None:
                self.problem(_child(item, "action"), f"{path}.action", f"action 'scale_out' "
                             f"raises the hpa's minReplicas to maxReplicas, and "
                             f"'{target.name}' has no hpa; give it one")

    def rule_component(self, rule, key: str, components: dict, item, path: str):
        """The component a rule names under `key`, or None (a problem when it is unknown)."""
        name = rule.get(key)
        if name is None:
            return None
        if name not in components:
            self.problem(_child(item, key), f"{path}.{key}", f"'{name}' is not a component."
                         f"{did_you_mean(str(name), components)} Components: "
                         f"{', '.join(components)}")
            return None
        return components[name]

    def cross_check(self, component: Component, node) -> None:
        if component.kind == "traffic":
            self.workload(component, _child(node, component.name))
        hpa = component.config.get("hpa")
        low, high = (hpa or {}).get("minReplicas"), (hpa or {}).get("maxReplicas")
        if low is not None and high is not None and low > high:    # a bad one is reported
            self.problem(_child(_child(node, component.name), "hpa"),
                         f"components.{component.name}.hpa",
                         f"minReplicas ({hpa['minReplicas']:g}) is above maxReplicas "
                         f"({hpa['maxReplicas']:g})")

    def workload(self, component: Component, node) -> None:
        """A traffic component is open (`rate`, `peak`) or closed (`population`, `thinkTime`,
        `peakPopulation`): exactly one of rate and population, and only its own fields."""
        path = f"components.{component.name}"
        written = {name: _child(node, name) for name in ("rate", "population", "peak",
                                                         "thinkTime", "peakPopulation")}
        given = {name for name, value in written.items()    # even if wrongly
                 if value is not None and not _is_null(value)}
        closed = "population" in given
        if closed == ("rate" in given):
            self.problem(node, path, "give either rate (an open workload: arrivals per second) "
                         "or population (a closed one: clients that wait for their requests)"
                         + (", not both" if closed else ""))
            return
        for name in ("thinkTime", "peakPopulation") if not closed else ("peak",):
            if name in given:
                self.problem(_child(node, name), f"{path}.{name}",
                             f"applies to {'an open' if closed else 'a closed'} workload "
                             f"only (this one has {'population' if closed else 'rate'})")

    def calls(self, node, components: dict) -> list[Connection]:
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, "calls", "expected a list of {from: A, to: B, ...}")
            return []
        out = []
        for i, item in enumerate(node.value):
            path = f"calls[{i}]"
            config = self.fields(item, CALL, path)
            ends = []
            for end in ("from", "to"):
                name = config.get(end)
                if name is not None and name not in components:
                    self.problem(_child(item, end), f"{path}.{end}", f"'{name}' is not a component."
                                 f"{did_you_mean(str(name), components)} Components: "
                                 f"{', '.join(components)}")
                ends.append(name)
            if None in ends or any(e not in components for e in ends):
                self.unknown_ends = True
                continue
            config = {k: v for k, v in config.items() if k not in ("from", "to")}
            first = next((j for j, c in enumerate(out) if (c.source, c.target) == tuple(ends)),
                         None)
            if first is not None:
                self.problem(item, path, f"{ends[0]} -> {ends[1]} is already calls[{first}] "
                             f"(line {out[first].line}): one call per pair; merge them")
                continue
            out.append(Connection(ends[0], ends[1], MappingProxyType(config),
                                  item.start_mark.line + 1))
        return out

    # -- fields ------------------------------------------------------------------------
    def fields(self, node, section: Section, path: str, *, keep_nodes: bool = False) -> dict:
        """The fields of a mapping node with defaults filled in (values as nodes if asked)."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path or "(document)", "expected a mapping with the fields "
                         f"{', '.join(section.fields)}")
            return {}
        out, lines = {}, {}
        for key, value in node.value:
            name, where = key.value, _join(path, key.value)
            if name in lines:
                self.problem(key, where, f"appears twice (first on line {lines[name]})")
                continue
            lines[name] = key.start_mark.line + 1
            spec = section.fields.get(name)
            if spec is None:
                self.problem(key, where, f"unknown field.{did_you_mean(name, section.fields)} "
                             f"Allowed: {', '.join(section.fields)}")
                continue
            out[name] = value if keep_nodes else self.value(value, spec, where)
        for name, spec in section.fields.items():
            if name in out:
                continue
            if spec.default is REQUIRED:
                self.problem(node, _join(path, name), f"is required ({spec.source})")
            elif not keep_nodes:
                out[name] = self.defaults(spec)
        return out

    def defaults(self, spec):
        """A field's default; a section's default mapping gets its own defaults filled in."""
        if isinstance(spec.type, Section) and spec.default == {}:
            return {name: self.defaults(inner) for name, inner in spec.type.fields.items()
                    if inner.default is not REQUIRED}
        if isinstance(spec.type, Number) and spec.default is not None:
            return float(spec.default)
        return spec.default

    def value(self, node, spec, path: str):
        kind = spec.type
        if _is_null(node):
            if spec.default is None:
                return None
            self.problem(node, path, f"cannot be empty ({spec.source})")
            return None
        if isinstance(kind, Section):
            return self.fields(node, kind, path)
        if isinstance(kind, ListOf):
            if not isinstance(node, yaml.SequenceNode):
                self.problem(node, path, "expected a list")
                return None
            return [self.fields(item, kind.section, f"{path}[{i}]")
                    for i, item in enumerate(node.value)]
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, path, "expected a single value")
            return None
        value = _scalar(node)
        if kind is str:
            return str(value)
        try:
            return kind.read(value)
        except QuantityError as exc:
            self.problem(node, path, str(exc))
            return None


def _scalar(node):
    return yaml.SafeLoader("").construct_object(node) if isinstance(node, yaml.ScalarNode) else node


def _is_null(node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _child(node, key: str):
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
