"""The interpreter: compiles parsed templates into Python closures and runs them.

Compiling once into closures (rather than walking the tree on every execute) keeps the cost
of a render close to that of the work the template asks for, which matters when one
ApplicationSet renders tens of thousands of Applications. Limits on steps, output size and
template depth make a hostile or buggy template fail instead of hanging the controller.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from generators import limits

from .errors import FuncError
from .funcspec import GO_TYPE, REGISTRY, Kind
from .meter import LimitFuncError, Meter, cost
from .parser import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    StringNode,
    TemplateNode,
    TextNode,
    Tree,
    VariableNode,
)
from .values import MISSING, Int64, is_true, print_value, type_name

MAX_STEPS = 1_000_000
MAX_OUTPUT = 1 << 20
MAX_DEPTH = 100

MK_DEFAULT, MK_ZERO, MK_ERROR = 0, 1, 2

NOFINAL: Any = object()  # Go's missingVal: no value piped into the command


class ExecError(Exception):
    """An execution error at a node; converted to GoTemplateError by the public API.

    `limit` names the bound that was hit (see generators.limits), if that is the cause."""

    def __init__(self, msg: str, node: Node | None = None, limit: str = "") -> None:
        super().__init__(msg)
        self.msg = msg
        self.node = node
        self.limit = limit


_SHARING = frozenset({"index", "first", "mustFirst", "last", "mustLast", "get", "dig"})
"""Functions returning part of an argument: they build nothing, so nothing is charged."""


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class State(Meter):
    """One execution: output, variables' depth, and the meter its steps and functions charge.

    Its time limit is the running expansion's deadline (generators.limits), or the default
    expansion timeout from now when a template is executed on its own."""

    __slots__ = ("depth", "max_out", "max_steps", "mk", "out", "size", "steps", "templates")

    def __init__(self, mk: int, templates: dict[str, CompiledTree]) -> None:
        budget = limits.current()
        bounds = budget.limits if budget is not None else limits.DEFAULT_LIMITS
        deadline = budget.deadline if budget is not None else time.monotonic() + bounds.timeout
        super().__init__(bounds.template_memory_bytes, deadline, bounds.timeout)
        self.out: list[str] = []
        self.size = 0
        self.steps = 0
        self.depth = 0
        self.mk = mk
        self.templates = templates
        self.max_steps = MAX_STEPS
        self.max_out = MAX_OUTPUT

    def write(self, s: str, node: Node) -> None:
        self.size += len(s)
        if self.size > self.max_out:
            raise ExecError(f"output exceeds the limit of {self.max_out} bytes", node, "max_output")
        self.out.append(s)

    def step(self, node: Node) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise ExecError(
                f"execution exceeds the limit of {self.max_steps} steps", node, "max_steps"
            )
        if self.overdue():
            raise ExecError(self.timeout_message(), node, "timeout")


Run = Callable[[State, Any, list[Any]], None]
Eval = Callable[[State, Any, list[Any]], Any]
Cmd = Callable[[State, Any, list[Any], Any], Any]


class CompiledTree:
    __slots__ = ("name", "nslots", "run")

    def __init__(self, name: str, nslots: int, run: Run) -> None:
        self.name = name
        self.nslots = nslots
        self.run = run


# field access ------------------------------------------------------------------------------
def walk_fields(st: State, recv: Any, fields: tuple[str, ...], node: Node) -> Any:
    """Go's evalFieldChain for the values templates see: maps, nil and missing values."""
    for name in fields:
        if type(recv) is dict:
            v = recv.get(name, MISSING)
            if v is MISSING:
                if st.mk == MK_ERROR:
                    raise ExecError(f'map has no entry for key "{name}"', node)
                if st.mk == MK_ZERO:
                    v = None
            recv = v
        elif recv is MISSING:
            if st.mk == MK_ERROR:
                raise ExecError(f'nil data; no entry for key "{name}"', node)
        elif recv is None:
            raise ExecError(f"nil pointer evaluating interface {{}}.{name}", node)
        elif hasattr(recv, "go_fields"):
            # Our own Go-struct stand-ins (semver) expose an explicit field table; no other
            # Python attribute is ever reachable from a template.
            fields_of = recv.go_fields()
            if name not in fields_of:
                raise ExecError(f"can't evaluate field {name} in type {type(recv).__name__}", node)
            recv = fields_of[name]
        else:
            raise ExecError(f"can't evaluate field {name} in type {type_name(recv)}", node)
    return recv


# argument conversion -----------------------------------------------------------------------
def validate(v: Any, kind: Kind, node: Node) -> Any:
    """Go's validateType: can this runtime value be passed as a parameter of `kind`?"""
    if kind == Kind.ANY:
        return None if v is MISSING else v
    if kind == Kind.VALUE:
        return v
    t = type(v)
    ok = (
        (kind == Kind.STR and t is str)
        or (kind == Kind.INT and t is int)
        or (kind == Kind.INT64 and t is Int64)
        or (kind == Kind.FLOAT and t is float)
        or (kind == Kind.BOOL and t is bool)
        or (kind == Kind.MAP and t is dict)
        or (kind == Kind.LIST and t is list)
    )
    if ok:
        return v
    if v is MISSING or v is None:
        # Go turns an invalid value into a nil map/slice, but a nil interface{} (JSON null)
        # is not assignable to a map or slice parameter.
        if kind == Kind.MAP and v is MISSING:
            return {}
        if kind == Kind.LIST and v is MISSING:
            return []
        if v is MISSING:
            raise ExecError(f"invalid value; expected {GO_TYPE[kind]}", node)
        raise ExecError(f"wrong type for value; expected {GO_TYPE[kind]}; got interface {{}}", node)
    raise ExecError(f"wrong type for value; expected {GO_TYPE[kind]}; got {type_name(v)}", node)


def _const_arg(node: Node, kind: Kind) -> Any:
    """A literal argument converted at compile time, as Go's evalArg does for constants."""
    if kind in (Kind.ANY, Kind.VALUE):
        if isinstance(node, BoolNode):
            return node.value
        if isinstance(node, NumberNode):
            return node.const
        if isinstance(node, StringNode):
            return node.text
    elif kind == Kind.STR and isinstance(node, StringNode):
        return node.text
    elif kind == Kind.BOOL and isinstance(node, BoolNode):
        return node.value
    elif kind == Kind.INT and isinstance(node, NumberNode) and node.as_int is not None:
        return node.as_int
    elif kind == Kind.INT64 and isinstance(node, NumberNode) and node.as_int is not None:
        return Int64(node.as_int)
    elif kind == Kind.FLOAT and isinstance(node, NumberNode) and node.as_float is not None:
        return node.as_float
    expected = {
        Kind.STR: "string",
        Kind.BOOL: "bool",
        Kind.INT: "integer",
        Kind.INT64: "integer",
        Kind.FLOAT: "float",
    }.get(kind)
    if expected is not None:
        raise ExecError(f"expected {expected}; found {node}", node)
    raise ExecError(f"can't handle {node} for arg of type {GO_TYPE[kind]}", node)


class Compiler:
    """Turns parse trees into closures; one instance per template source."""

    def __init__(self, trees: dict[str, Tree]) -> None:
        self.trees = trees
        self.compiled: dict[str, CompiledTree] = {}

    def compile_all(self) -> dict[str, CompiledTree]:
        for name, tree in self.trees.items():
            self.compiled[name] = CompiledTree(name, tree.nslots, self.body(tree.root))
        return self.compiled

    # statements --------------------------------------------------------------------------
    def body(self, nodes: list[Node]) -> Run:
        runs = [self.node(n) for n in nodes]
        if len(runs) == 1:
            return runs[0]

        def run_list(st: State, dot: Any, frame: list[Any]) -> None:
            for r in runs:
                r(st, dot, frame)

        return run_list

    def node(self, n: Node) -> Run:
        if isinstance(n, TextNode):
            text = n.text

            def run_text(st: State, dot: Any, frame: list[Any]) -> None:
                st.write(text, n)

            return run_text
        if isinstance(n, ActionNode):
            return self.action(n)
        if isinstance(n, BranchNode):
            if n.kind == "range":
                return self.range(n)
            return self.if_with(n)
        if isinstance(n, TemplateNode):
            return self.template(n)
        if isinstance(n, BreakNode):

            def run_break(st: State, dot: Any, frame: list[Any]) -> None:
                raise _Break

            return run_break
        if isinstance(n, ContinueNode):

            def run_continue(st: State, dot: Any, frame: list[Any]) -> None:
                raise _Continue

            return run_continue
        raise ExecError(f"unknown node {type(n).__name__}", n)

    def action(self, n: ActionNode) -> Run:
        ev = self.pipe(n.pipe)
        if n.pipe.decl:

            def run_decl(st: State, dot: Any, frame: list[Any]) -> None:
                ev(st, dot, frame)

            return run_decl

        def run_action(st: State, dot: Any, frame: list[Any]) -> None:
            v = ev(st, dot, frame)
            s = v if type(v) is str else print_value(v)
            st.write(s, n)

        return run_action

    def if_with(self, n: BranchNode) -> Run:
        cond = self.pipe(n.pipe)
        body = self.body(n.list)
        other = self.body(n.else_list) if n.else_list is not None else None
        is_with = n.kind == "with"

        def run_if(st: State, dot: Any, frame: list[Any]) -> None:
            v = cond(st, dot, frame)
            if is_true(v):
                body(st, v if is_with else dot, frame)
            elif other is not None:
                other(st, dot, frame)

        return run_if

    def range(self, n: BranchNode) -> Run:
        ev = self.pipe(n.pipe, with_decl=False)
        body = self.body(n.list)
        other = self.body(n.else_list) if n.else_list is not None else None
        slots = [d.slot for d in n.pipe.decl]
        two = len(slots) == 2

        def one(st: State, frame: list[Any], key: Any, elem: Any) -> bool:
            st.step(n)
            if slots:
                if two:
                    frame[slots[0]] = key
                    frame[slots[1]] = elem
                else:
                    frame[slots[0]] = elem
            try:
                body(st, elem, frame)
            except _Continue:
                pass
            except _Break:
                return False
            return True

        def run_range(st: State, dot: Any, frame: list[Any]) -> None:
            v = ev(st, dot, frame)
            t = type(v)
            if slots:
                frame[slots[0]] = v
            if t is list or t is tuple:
                if v:
                    for i, e in enumerate(v):
                        if not one(st, frame, i, e):
                            break
                    return
            elif t is dict:
                if v:
                    for k in sorted(v):
                        if not one(st, frame, k, v[k]):
                            break
                    return
            elif t is int or t is Int64:
                if two:
                    raise ExecError(f"can't use {v} to iterate over more than one variable", n.pipe)
                if v > 0:
                    for i in range(int(v)):
                        if not one(st, frame, i, i):
                            break
                    return
            elif t is str:
                raise ExecError(f"range can't iterate over {v}", n.pipe)
            elif v is not MISSING and v is not None:
                raise ExecError(f"range can't iterate over {print_value(v)}", n.pipe)
            if other is not None:
                other(st, dot, frame)

        return run_range

    def template(self, n: TemplateNode) -> Run:
        ev = self.pipe(n.pipe) if n.pipe is not None else None
        name = n.name

        def run_template(st: State, dot: Any, frame: list[Any]) -> None:
            tree = st.templates.get(name)
            if tree is None:
                raise ExecError(f'no template "{name}" associated with template', n)
            new_dot = ev(st, dot, frame) if ev is not None else MISSING
            st.step(n)
            if st.depth >= MAX_DEPTH:
                raise ExecError(f"exceeded maximum template depth ({MAX_DEPTH})", n)
            new_frame: list[Any] = [None] * tree.nslots
            new_frame[0] = new_dot
            st.depth += 1
            try:
                tree.run(st, new_dot, new_frame)
            finally:
                st.depth -= 1

        return run_template

    # expressions -------------------------------------------------------------------------
    def pipe(self, p: PipeNode, with_decl: bool = True) -> Eval:
        cmds = [self.command(c) for c in p.cmds]
        slots = [d.slot for d in p.decl] if with_decl else []
        if len(cmds) == 1:
            c0 = cmds[0]

            def ev1(st: State, dot: Any, frame: list[Any]) -> Any:
                v = c0(st, dot, frame, NOFINAL)
                if v is None:
                    v = MISSING
                for s in slots:
                    frame[s] = v
                return v

            return ev1

        def ev(st: State, dot: Any, frame: list[Any]) -> Any:
            v = NOFINAL
            for c in cmds:
                v = c(st, dot, frame, v)
                if v is None:
                    v = MISSING
            for s in slots:
                frame[s] = v
            return v

        return ev

    def command(self, c: CommandNode) -> Cmd:
        first = c.args[0]
        nargs = len(c.args)
        if isinstance(first, IdentifierNode):
            return self.call(first, c.args[1:], c)
        if isinstance(first, FieldNode):
            fields = first.fields

            def cmd_field(st: State, dot: Any, frame: list[Any], final: Any) -> Any:
                st.step(first)
                if nargs > 1 or final is not NOFINAL:
                    raise ExecError(f"{fields[-1]} is not a method but has arguments", first)
                return walk_fields(st, dot, fields, first)

            return cmd_field
        if isinstance(first, VariableNode):
            vfields = first.fields
            slot = first.slot

            def cmd_var(st: State, dot: Any, frame: list[Any], final: Any) -> Any:
                st.step(first)
                if nargs > 1 or final is not NOFINAL:
                    if vfields:
                        raise ExecError(f"{vfields[-1]} is not a method but has arguments", first)
                    raise ExecError(f"can't give argument to non-function {first}", first)
                v = frame[slot]
                return walk_fields(st, v, vfields, first) if vfields else v

            return cmd_var
        if isinstance(first, ChainNode):
            inner = self.operand(first.node)
            cfields = first.fields

            def cmd_chain(st: State, dot: Any, frame: list[Any], final: Any) -> Any:
                st.step(first)
                if nargs > 1 or final is not NOFINAL:
                    raise ExecError(f"{cfields[-1]} is not a method but has arguments", first)
                v = inner(st, dot, frame)
                return walk_fields(st, v, cfields, first)

            return cmd_chain
        if isinstance(first, NilNode):

            def cmd_nil(st: State, dot: Any, frame: list[Any], final: Any) -> Any:
                raise ExecError("nil is not a command", first)

            return cmd_nil
        ev = self.operand(first)

        def cmd_other(st: State, dot: Any, frame: list[Any], final: Any) -> Any:
            st.step(first)
            if nargs > 1 or final is not NOFINAL:
                raise ExecError(f"can't give argument to non-function {first}", first)
            return ev(st, dot, frame)

        return cmd_other

    def operand(self, n: Node) -> Eval:
        """Evaluate a node as an untyped value (Go's evalArg with a nil type)."""
        if isinstance(n, DotNode):
            return lambda st, dot, frame: dot
        if isinstance(n, FieldNode):
            fields = n.fields
            return lambda st, dot, frame: walk_fields(st, dot, fields, n)
        if isinstance(n, VariableNode):
            slot, vf = n.slot, n.fields
            if not vf:
                return lambda st, dot, frame: frame[slot]
            return lambda st, dot, frame: walk_fields(st, frame[slot], vf, n)
        if isinstance(n, PipeNode):
            return self.pipe(n)
        if isinstance(n, IdentifierNode):
            call = self.call(n, [], n)
            return lambda st, dot, frame: call(st, dot, frame, NOFINAL)
        if isinstance(n, ChainNode):
            inner = self.operand(n.node)
            cf = n.fields
            return lambda st, dot, frame: walk_fields(st, inner(st, dot, frame), cf, n)
        if isinstance(n, NilNode):

            def nil_operand(st: State, dot: Any, frame: list[Any]) -> Any:
                raise ExecError("nil is not a command", n)

            return nil_operand
        const = _const_arg(n, Kind.ANY)
        return lambda st, dot, frame: const

    def arg(self, n: Node, kind: Kind) -> Eval:
        """Go's evalArg: evaluate a node for a parameter of a known kind."""
        if isinstance(n, (DotNode, FieldNode, VariableNode, PipeNode, IdentifierNode, ChainNode)):
            ev = self.operand(n)
            if kind == Kind.VALUE:
                return ev
            if kind == Kind.ANY:

                def ev_any(st: State, dot: Any, frame: list[Any]) -> Any:
                    v = ev(st, dot, frame)
                    return None if v is MISSING else v

                return ev_any
            return lambda st, dot, frame: validate(ev(st, dot, frame), kind, n)
        if isinstance(n, NilNode):
            if kind in (Kind.ANY, Kind.MAP, Kind.LIST):
                return lambda st, dot, frame: None
            msg = f"cannot assign nil to {GO_TYPE[kind]}"

            def nil_arg(st: State, dot: Any, frame: list[Any]) -> Any:
                raise ExecError(msg, n)

            return nil_arg
        try:
            const = _const_arg(n, kind)
        except ExecError as exc:
            err = exc

            def bad_arg(st: State, dot: Any, frame: list[Any]) -> Any:
                raise err

            return bad_arg
        return lambda st, dot, frame: const

    def call(self, ident: IdentifierNode, arg_nodes: list[Node], node: Node) -> Cmd:
        from . import builtins

        name = ident.name
        if name in ("and", "or"):
            return builtins.compile_and_or(self, name == "or", arg_nodes, node)
        spec = REGISTRY[name]
        params, variadic = spec.params, spec.variadic
        shares = name in _SHARING
        fn = spec.fn
        nfixed = len(params)
        nargs = len(arg_nodes)

        def count_error(final: Any) -> ExecError | None:
            n_in = nargs + (0 if final is NOFINAL else 1)
            if variadic is not None:
                if n_in < nfixed:
                    return ExecError(
                        f"wrong number of args for {name}: want at least {nfixed} got {nargs}",
                        node,
                    )
            elif n_in != nfixed:
                return ExecError(f"wrong number of args for {name}: want {nfixed} got {n_in}", node)
            return None

        kinds: list[Kind] = []
        for i in range(nargs):
            if i < nfixed:
                kinds.append(params[i])
            elif variadic is not None:
                kinds.append(variadic)
            else:
                kinds.append(Kind.ANY)
        evs = [self.arg(a, k) for a, k in zip(arg_nodes, kinds, strict=True)]
        final_kind_fixed = params[nargs] if nargs < nfixed else variadic
        final_kind = final_kind_fixed if final_kind_fixed is not None else Kind.ANY

        def cmd_call(st: State, dot: Any, frame: list[Any], final: Any) -> Any:
            st.step(node)
            err = count_error(final)
            if err is not None:
                raise err
            argv = [e(st, dot, frame) for e in evs]
            if final is not NOFINAL:
                argv.append(validate(final, final_kind, node))
            try:
                # A call's work grows with its input (hashing, parsing, scanning a megabyte):
                # large inputs count towards the next look at the clock.
                work = sum(len(a) for a in argv if type(a) is str)
                if work > 4096:
                    st.tick(work >> 10)
                result = fn(*argv)
                if not shares and all(result is not a for a in argv):
                    st.charge(cost(result), name)
                return result
            except ExecError:
                raise
            except LimitFuncError as exc:
                raise ExecError(f"error calling {name}: {exc}", node, exc.limit) from exc
            except FuncError as exc:
                raise ExecError(f"error calling {name}: {exc}", node) from exc
            except RecursionError as exc:
                raise ExecError(f"error calling {name}: value nested too deeply", node) from exc
            except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError) as exc:
                raise ExecError(f"error calling {name}: {exc}", node) from exc
            except (OverflowError, ArithmeticError, UnicodeError) as exc:
                raise ExecError(f"error calling {name}: {exc}", node) from exc

        return cmd_call
