"""Parser for Go text/template: builds the node tree the executor compiles.

Like Go, it rejects unknown functions and undeclared variables at parse time. Variables are
resolved here to fixed slots in a per-template frame, so the executor never searches a
variable stack by name.
"""

from __future__ import annotations

import ast
from collections.abc import Collection

from .lexer import LexError, T, Token, lex


class ParseError(Exception):
    def __init__(self, msg: str, pos: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.pos = pos


class Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos


class TextNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def __str__(self) -> str:
        return repr(self.text[:20])


class FieldNode(Node):
    __slots__ = ("fields",)

    def __init__(self, pos: int, fields: tuple[str, ...]) -> None:
        super().__init__(pos)
        self.fields = fields

    def __str__(self) -> str:
        return "".join("." + f for f in self.fields)


class VariableNode(Node):
    __slots__ = ("fields", "name", "slot")

    def __init__(self, pos: int, name: str, slot: int, fields: tuple[str, ...]) -> None:
        super().__init__(pos)
        self.name = name
        self.slot = slot
        self.fields = fields

    def __str__(self) -> str:
        return self.name + "".join("." + f for f in self.fields)


class ChainNode(Node):
    __slots__ = ("fields", "node")

    def __init__(self, pos: int, node: Node, fields: tuple[str, ...]) -> None:
        super().__init__(pos)
        self.node = node
        self.fields = fields

    def __str__(self) -> str:
        inner = str(self.node)
        if isinstance(self.node, PipeNode):
            inner = "(" + inner + ")"
        return inner + "".join("." + f for f in self.fields)


class IdentifierNode(Node):
    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        super().__init__(pos)
        self.name = name

    def __str__(self) -> str:
        return self.name


class DotNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class NilNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "nil"


class BoolNode(Node):
    __slots__ = ("value",)

    def __init__(self, pos: int, value: bool) -> None:
        super().__init__(pos)
        self.value = value

    def __str__(self) -> str:
        return "true" if self.value else "false"


class NumberNode(Node):
    """A numeric constant; like Go's NumberNode it may be usable as both int and float."""

    __slots__ = ("as_float", "as_int", "const", "text")

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text
        self.as_int: int | None = None
        self.as_float: float | None = None
        self.const: int | float = 0
        self._parse()

    def _parse(self) -> None:
        text = self.text
        if text.startswith("'"):
            try:
                ch = ast.literal_eval(text)
            except (ValueError, SyntaxError) as exc:
                raise ParseError(f"malformed character constant: {text}", self.pos) from exc
            if not isinstance(ch, str) or len(ch) != 1:
                raise ParseError(f"malformed character constant: {text}", self.pos)
            self.as_int = ord(ch)
            self.as_float = float(ord(ch))
            self.const = ord(ch)
            return
        clean = text.replace("_", "")
        low = clean.lower().lstrip("+-")
        is_hex = low.startswith("0x")
        try:
            self.as_int = int(clean, 0)
        except ValueError:
            if (
                not is_hex
                and low.startswith("0")
                and len(low) > 1
                and low[1:].isdigit()
                and "." not in low
                and "e" not in low
            ):
                try:
                    self.as_int = int(clean, 8)
                except ValueError as exc:
                    raise ParseError(f"illegal number syntax: {text!r}", self.pos) from exc
        if self.as_int is not None:
            if not -(2**63) <= self.as_int < 2**63:
                raise ParseError(f"{text} overflows int", self.pos)
            self.as_float = float(self.as_int)
            self.const = self.as_int
            return
        try:
            f = float.fromhex(clean) if is_hex else float(clean)
        except ValueError as exc:
            raise ParseError(f"illegal number syntax: {text!r}", self.pos) from exc
        self.as_float = f
        if f == f and abs(f) != float("inf") and float(int(f)) == f and abs(f) < 2**63:
            self.as_int = int(f)
        self.const = f

    def __str__(self) -> str:
        return self.text


class StringNode(Node):
    __slots__ = ("quoted", "text")

    def __init__(self, pos: int, quoted: str, text: str) -> None:
        super().__init__(pos)
        self.quoted = quoted
        self.text = text

    def __str__(self) -> str:
        return self.quoted


class CommandNode(Node):
    __slots__ = ("args",)

    def __init__(self, pos: int, args: list[Node]) -> None:
        super().__init__(pos)
        self.args = args

    def __str__(self) -> str:
        parts = []
        for a in self.args:
            s = str(a)
            parts.append("(" + s + ")" if isinstance(a, PipeNode) else s)
        return " ".join(parts)


class PipeNode(Node):
    __slots__ = ("cmds", "decl", "is_assign")

    def __init__(self, pos: int, decl: list[VariableNode], is_assign: bool) -> None:
        super().__init__(pos)
        self.decl = decl
        self.is_assign = is_assign
        self.cmds: list[CommandNode] = []

    def __str__(self) -> str:
        s = ""
        if self.decl:
            s = ", ".join(v.name for v in self.decl) + (" = " if self.is_assign else " := ")
        return s + " | ".join(str(c) for c in self.cmds)


class ActionNode(Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: PipeNode) -> None:
        super().__init__(pos)
        self.pipe = pipe

    def __str__(self) -> str:
        return str(self.pipe)


class BranchNode(Node):
    """if / with / range: a pipeline, a body and an optional else body."""

    __slots__ = ("else_list", "kind", "list", "pipe")

    def __init__(
        self, pos: int, kind: str, pipe: PipeNode, body: list[Node], else_list: list[Node] | None
    ) -> None:
        super().__init__(pos)
        self.kind = kind
        self.pipe = pipe
        self.list = body
        self.else_list = else_list

    def __str__(self) -> str:
        return f"{{{{{self.kind} {self.pipe}}}}}"


class BreakNode(Node):
    __slots__ = ()


class ContinueNode(Node):
    __slots__ = ()


class TemplateNode(Node):
    __slots__ = ("name", "pipe")

    def __init__(self, pos: int, name: str, pipe: PipeNode | None) -> None:
        super().__init__(pos)
        self.name = name
        self.pipe = pipe

    def __str__(self) -> str:
        arg = f" {self.pipe}" if self.pipe is not None else ""
        return f'{{{{template "{self.name}"{arg}}}}}'


class Tree:
    """One named template: its body and how many variable slots its frame needs."""

    __slots__ = ("name", "nslots", "root")

    def __init__(self, name: str, root: list[Node], nslots: int) -> None:
        self.name = name
        self.root = root
        self.nslots = nslots


def _unquote(tok: Token) -> str:
    if tok.typ == T.RAWSTRING:
        return tok.val[1:-1].replace("\r", "")
    try:
        v = ast.literal_eval(tok.val)
    except (ValueError, SyntaxError) as exc:
        raise ParseError(f"invalid syntax: {tok.val}", tok.pos) from exc
    if not isinstance(v, str):
        raise ParseError(f"invalid syntax: {tok.val}", tok.pos)
    return v


class Parser:
    """Recursive-descent parser over the token list, mirroring Go's parse.Tree."""

    def __init__(self, src: str, funcs: Collection[str]) -> None:
        self.src = src
        self.funcs = funcs
        try:
            self.toks = lex(src)
        except LexError as exc:
            raise ParseError(exc.msg, exc.pos) from exc
        self.i = 0
        self.vars: list[tuple[str, int]] = [("$", 0)]
        self.nslots = 1
        self.range_depth = 0
        self.trees: dict[str, Tree] = {}

    # token helpers -----------------------------------------------------------------------
    def next(self) -> Token:
        t = self.toks[self.i]
        if t.typ != T.EOF:
            self.i += 1
        return t

    def peek(self) -> Token:
        return self.toks[self.i]

    def backup(self) -> None:
        self.i -= 1

    def next_non_space(self) -> Token:
        t = self.next()
        while t.typ == T.SPACE:
            t = self.next()
        return t

    def peek_non_space(self) -> Token:
        t = self.next_non_space()
        self.backup()
        return t

    def unexpected(self, tok: Token, context: str) -> ParseError:
        if tok.typ == T.EOF:
            return ParseError(f"unexpected EOF in {context}", tok.pos)
        return ParseError(f"unexpected {tok.val!r} in {context}", tok.pos)

    def expect(self, typ: T, context: str) -> Token:
        t = self.next_non_space()
        if t.typ != typ:
            raise self.unexpected(t, context)
        return t

    # top level ---------------------------------------------------------------------------
    def parse(self, name: str) -> dict[str, Tree]:
        root: list[Node] = []
        while self.peek().typ != T.EOF:
            if self.peek().typ == T.LEFT:
                save = self.i
                self.next()
                if self.next_non_space().typ == T.DEFINE:
                    self.parse_define()
                    continue
                self.i = save
            node, stop = self.text_or_action()
            if stop is not None:
                raise ParseError(f"unexpected {stop}", node.pos)
            root.append(node)
        self.add_tree(Tree(name, root, self.nslots))
        return self.trees

    def add_tree(self, tree: Tree) -> None:
        old = self.trees.get(tree.name)
        if old is not None and _non_empty(old.root) and _non_empty(tree.root):
            raise ParseError(f"template: multiple definition of template {tree.name!r}", 0)
        if old is None or not _non_empty(old.root) or _non_empty(tree.root):
            self.trees[tree.name] = tree

    def parse_define(self) -> None:
        tok = self.next_non_space()
        if tok.typ not in (T.STRING, T.RAWSTRING):
            raise self.unexpected(tok, "define clause")
        name = _unquote(tok)
        self.expect(T.RIGHT, "define clause")
        saved = (self.vars, self.nslots, self.range_depth)
        self.vars, self.nslots, self.range_depth = [("$", 0)], 1, 0
        body, stop, _ = self.item_list(("end",))
        del stop
        self.add_tree(Tree(name, body, self.nslots))
        self.vars, self.nslots, self.range_depth = saved

    def item_list(self, stops: tuple[str, ...]) -> tuple[list[Node], str, int]:
        """Parse nodes until one of `stops` ("end", "else"); returns the list and the stop."""
        out: list[Node] = []
        while True:
            t = self.peek()
            if t.typ == T.EOF:
                raise ParseError("unexpected EOF", t.pos)
            node, stop = self.text_or_action()
            if stop is not None:
                if stop not in stops:
                    raise ParseError(f"unexpected {{{{{stop}}}}}", node.pos)
                return out, stop, node.pos
            out.append(node)

    def text_or_action(self) -> tuple[Node, str | None]:
        t = self.next()
        if t.typ == T.TEXT:
            return TextNode(t.pos, t.val), None
        if t.typ == T.LEFT:
            return self.action(t)
        raise self.unexpected(t, "input")

    def action(self, left: Token) -> tuple[Node, str | None]:
        t = self.next_non_space()
        typ = t.typ
        if typ == T.END:
            self.expect(T.RIGHT, "end")
            return Node(t.pos), "end"
        if typ == T.ELSE:
            nxt = self.peek_non_space()
            if nxt.typ in (T.IF, T.WITH):
                # "else if"/"else with": leave the keyword for the caller to parse.
                return Node(t.pos), "else-" + ("if" if nxt.typ == T.IF else "with")
            self.expect(T.RIGHT, "else")
            return Node(t.pos), "else"
        if typ == T.IF:
            return self.control("if", t), None
        if typ == T.WITH:
            return self.control("with", t), None
        if typ == T.RANGE:
            return self.control("range", t), None
        if typ == T.BREAK or typ == T.CONTINUE:
            if self.range_depth == 0:
                raise ParseError(f"{{{{{t.val}}}}} outside {{{{range}}}}", t.pos)
            self.expect(T.RIGHT, t.val)
            return (BreakNode(t.pos) if typ == T.BREAK else ContinueNode(t.pos)), None
        if typ == T.TEMPLATE:
            return self.template_call(t, "template"), None
        if typ == T.BLOCK:
            return self.block(t), None
        self.backup()
        return ActionNode(left.pos, self.pipeline("command", T.RIGHT)), None

    def control(self, kind: str, tok: Token) -> Node:
        mark = len(self.vars)
        pipe = self.pipeline(kind, T.RIGHT)
        if kind == "range":
            self.range_depth += 1
        body, stop, stop_pos = self.item_list(("end", "else", "else-if", "else-with"))
        if kind == "range":
            self.range_depth -= 1
        else_list: list[Node] | None = None
        if stop == "else":
            else_list, _, _ = self.item_list(("end",))
        elif stop in ("else-if", "else-with"):
            if kind == "range":
                raise ParseError("unexpected {{else if}} in range", stop_pos)
            kw = self.next_non_space()
            nested = self.control(stop[5:], kw)
            else_list = [nested]
        del self.vars[mark:]
        return BranchNode(tok.pos, kind, pipe, body, else_list)

    def template_call(self, tok: Token, context: str) -> TemplateNode:
        t = self.next_non_space()
        if t.typ not in (T.STRING, T.RAWSTRING):
            raise self.unexpected(t, f"{context} clause")
        name = _unquote(t)
        pipe: PipeNode | None = None
        if self.next_non_space().typ != T.RIGHT:
            self.backup()
            pipe = self.pipeline(context, T.RIGHT)
        return TemplateNode(tok.pos, name, pipe)

    def block(self, tok: Token) -> TemplateNode:
        node = self.template_call(tok, "block")
        saved = (self.vars, self.nslots, self.range_depth)
        self.vars, self.nslots, self.range_depth = [("$", 0)], 1, 0
        body, _, _ = self.item_list(("end",))
        self.add_tree(Tree(node.name, body, self.nslots))
        self.vars, self.nslots, self.range_depth = saved
        return node

    # pipelines ---------------------------------------------------------------------------
    def pipeline(self, context: str, end: T) -> PipeNode:
        tok = self.peek_non_space()
        decl: list[VariableNode] = []
        is_assign = False
        save = self.i
        v = self.next_non_space()
        if v.typ == T.VAR:
            nxt = self.next_non_space()
            if nxt.typ in (T.DECLARE, T.ASSIGN) or (nxt.typ == T.CHAR and nxt.val == ","):
                names = [v]
                if nxt.typ == T.CHAR:
                    if context != "range":
                        raise ParseError(f"too many declarations in {context}", nxt.pos)
                    v2 = self.next_non_space()
                    if v2.typ != T.VAR:
                        raise ParseError(f"expected variable in {context}", v2.pos)
                    names.append(v2)
                    nxt = self.next_non_space()
                    if nxt.typ not in (T.DECLARE, T.ASSIGN):
                        raise self.unexpected(nxt, context)
                is_assign = nxt.typ == T.ASSIGN
                for nv in names:
                    if is_assign:
                        slot = self.lookup_var(nv.val, nv.pos)
                    else:
                        slot = self.nslots
                        self.nslots += 1
                    decl.append(VariableNode(nv.pos, nv.val, slot, ()))
            else:
                self.i = save
        else:
            self.i = save
        pipe = PipeNode(tok.pos, decl, is_assign)
        while True:
            t = self.next_non_space()
            if t.typ == end:
                break
            if t.typ == T.EOF or t.typ == T.RIGHT or t.typ == T.RPAREN:
                raise self.unexpected(t, context)
            self.backup()
            pipe.cmds.append(self.command())
        if not pipe.cmds:
            raise ParseError(f"missing value for {context}", tok.pos)
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                raise ParseError(f"non executable command in pipeline stage {i + 2}", c.pos)
        # Declared variables become visible only after the pipeline, as in Go.
        if not is_assign:
            for d in decl:
                self.vars.append((d.name, d.slot))
        return pipe

    def lookup_var(self, name: str, pos: int) -> int:
        for n, slot in reversed(self.vars):
            if n == name:
                return slot
        raise ParseError(f"undefined variable {name!r}".replace("'", '"'), pos)

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos, [])
        while True:
            self.peek_non_space()
            op = self.operand()
            if op is not None:
                cmd.args.append(op)
            t = self.next()
            if t.typ == T.SPACE:
                continue
            if t.typ in (T.RIGHT, T.RPAREN):
                self.backup()
            elif t.typ == T.PIPE:
                pass
            else:
                raise self.unexpected(t, "operand")
            break
        if not cmd.args:
            raise ParseError("empty command", cmd.pos)
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == T.FIELD:
            pos = self.peek().pos
            fields: list[str] = []
            while self.peek().typ == T.FIELD:
                fields.append(self.next().val[1:])
            if isinstance(node, FieldNode):
                return FieldNode(pos, node.fields + tuple(fields))
            if isinstance(node, VariableNode):
                return VariableNode(pos, node.name, node.slot, node.fields + tuple(fields))
            if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                raise ParseError(f"unexpected . after term {str(node)!r}", pos)
            return ChainNode(pos, node, tuple(fields))
        return node

    def term(self) -> Node | None:
        t = self.next_non_space()
        typ = t.typ
        if typ == T.IDENT:
            if t.val not in self.funcs:
                raise ParseError(f'function "{t.val}" not defined', t.pos)
            return IdentifierNode(t.pos, t.val)
        if typ == T.DOT:
            return DotNode(t.pos)
        if typ == T.NIL:
            return NilNode(t.pos)
        if typ == T.VAR:
            return VariableNode(t.pos, t.val, self.lookup_var(t.val, t.pos), ())
        if typ == T.FIELD:
            return FieldNode(t.pos, (t.val[1:],))
        if typ == T.BOOL:
            return BoolNode(t.pos, t.val == "true")
        if typ == T.NUMBER or typ == T.CHARCONST:
            return NumberNode(t.pos, t.val)
        if typ == T.LPAREN:
            return self.pipeline("parenthesized pipeline", T.RPAREN)
        if typ == T.STRING or typ == T.RAWSTRING:
            return StringNode(t.pos, t.val, _unquote(t))
        self.backup()
        return None


def _non_empty(nodes: list[Node]) -> bool:
    return any(not (isinstance(n, TextNode) and not n.text.strip()) for n in nodes)


def parse(src: str, name: str, funcs: Collection[str]) -> dict[str, Tree]:
    """Parse `src`; returns every template it defines, the main one under `name`."""
    return Parser(src, funcs).parse(name)
