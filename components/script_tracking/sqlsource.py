"""Turn the files in sql/ into database objects: one per CREATE statement.

Statements are split and identified with pglast (PostgreSQL's own parser), never
with regular expressions. Each object carries the statements that belong to it
(its CREATE plus the COMMENT, GRANT/REVOKE and ALTER ... OWNED BY that name it, and
for a table an INSERT that fills it when it is created),
the objects it references (they become Pulumi dependencies), and a normalized
form used for diffs, so that formatting and comments never count as a change.

Plain data in, plain data out: nothing here talks to a database or to Pulumi.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pglast import ast, parse_sql
from pglast.parser import ParseError, scan
from pglast.stream import RawStream
from psycopg import sql

# the package's sql/: in a checkout a link to the repository's sql/, in a wheel a copy
SQL_DIR = Path(__file__).resolve().parent / "sql"
# Files of objects the dynamic provider manages, in creation order. Schemas are
# declared by script_tracking.desired (00_schemas.sql is for the psql path only); the
# event triggers are their own file because `trackDdl` switches them on and off.
OBJECT_FILES = ("10_audit.sql", "20_tracking.sql", "30_ddl_tracker.sql")
TRIGGER_FILES = ("40_ddl_triggers.sql",)


class SqlSourceError(ValueError):
    """The SQL in sql/ does not fit the rules the provider relies on."""


@dataclass(frozen=True)
class DbObject:
    kind: str                  # table, sequence, function, index, view, type, event_trigger;
                               # script_tracking.desired adds schema, role, grant and data
    identity: str              # e.g. script_tracking.track_operation(text, text, jsonb)
    schema: str | None
    name: str
    statements: tuple[str, ...]  # as written (comments stripped at the edges), in order
    depends_on: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        return object_key(self.kind, self.identity)


def object_key(kind: str, identity: str) -> str:
    """An object's key, unique among the objects of one database (a table and its
    rows share an identity)."""
    return f"{identity} rows" if kind == "data" else identity


# ---------------------------------------------------------------- normalization

_IDENT_TOKENS = {"IDENT"}
_COMMENTS = {"SQL_COMMENT", "C_COMMENT"}


def _tokens(text: str) -> list:
    """The lexer's tokens of `text` without comments."""
    return [t for t in scan(text) if t.name not in _COMMENTS]


def _normalize_body(body: str) -> str:
    """A function body as its token stream: comments, whitespace and keyword case
    do not matter. PL/pgSQL is lexed by the core scanner too, so this is exact."""
    try:
        tokens = _tokens(body)
    except ParseError:  # not SQL-lexable (another language): compare verbatim
        return body.strip()
    out = []
    for t in tokens:
        text = body[t.start:t.end + 1]
        if t.kind != "NO_KEYWORD" or t.name in _IDENT_TOKENS:
            text = text.lower() if not text.startswith('"') else text
        out.append(text)
    return " ".join(out)


def _canonical(stmt: ast.Node) -> str:
    if isinstance(stmt, ast.CreateFunctionStmt):
        for opt in stmt.options or ():
            if opt.defname == "as" and opt.arg:
                parts = list(opt.arg)
                parts[0] = ast.String(sval=_normalize_body(parts[0].sval))
                opt.arg = tuple(parts)
        # CREATE and CREATE OR REPLACE make the same function
        stmt.replace = True
    if isinstance(stmt, ast.ViewStmt):
        stmt.replace = True
    return RawStream()(stmt)


def normalize(sql: str) -> str:
    """Parser-normalized SQL: equal for texts that differ only in layout or comments."""
    return ";\n".join(_canonical(rs.stmt) for rs in parse_sql(sql))


def same_sql(old: list[str], new: list[str]) -> bool:
    """Whether two objects' statements mean the same (see normalize)."""
    return normalize(";\n".join(old)) == normalize(";\n".join(new))


# ---------------------------------------------------------------- identification

def identifier(identity: str) -> sql.Composable:
    """An identity as SQL: schema.name -> "schema"."name", and a function's
    schema.name(args) -> "schema"."name"(args). The argument list is pglast's
    rendering of sql/, never user input."""
    name, paren, args = identity.partition("(")
    ident = sql.Identifier(*name.split(".", 1))
    return sql.SQL("{}({})").format(ident, sql.SQL(args.removesuffix(")"))) if paren else ident


def _qualname(rv: ast.RangeVar) -> tuple[str | None, str]:
    return rv.schemaname, rv.relname


def _names(nodes) -> list[str]:
    return [n.sval for n in nodes]


def _type(tn: ast.TypeName) -> str:
    return RawStream()(tn).lower()


def _func_key(names: list[str], argtypes: list[str]) -> str:
    return f"{'.'.join(names)}({', '.join(argtypes)})"


def identify(stmt: ast.Node) -> tuple[str, str | None, str, str] | None:
    """(kind, schema, name, identity) for a CREATE statement, else None."""
    if isinstance(stmt, ast.CreateStmt):
        s, n = _qualname(stmt.relation)
        return "table", s, n, f"{s}.{n}" if s else n
    if isinstance(stmt, ast.CreateSeqStmt):
        s, n = _qualname(stmt.sequence)
        return "sequence", s, n, f"{s}.{n}" if s else n
    if isinstance(stmt, ast.ViewStmt):
        s, n = _qualname(stmt.view)
        return "view", s, n, f"{s}.{n}" if s else n
    if isinstance(stmt, ast.IndexStmt):
        s = stmt.relation.schemaname
        if not stmt.idxname:
            raise SqlSourceError("every index must be named explicitly")
        return "index", s, stmt.idxname, f"{s}.{stmt.idxname}" if s else stmt.idxname
    if isinstance(stmt, ast.CreateFunctionStmt):
        names = _names(stmt.funcname)
        args = [_type(p.argType) for p in stmt.parameters or ()
                if p.mode not in ("o", "t")]  # OUT and TABLE columns are not part of the signature
        schema = names[0] if len(names) > 1 else None
        return "function", schema, names[-1], _func_key(names, args)
    if isinstance(stmt, ast.CreateEventTrigStmt):
        return "event_trigger", None, stmt.trigname, stmt.trigname
    if isinstance(stmt, (ast.CompositeTypeStmt,)):
        s, n = _qualname(stmt.typevar)
        return "type", s, n, f"{s}.{n}" if s else n
    if isinstance(stmt, ast.CreateEnumStmt):
        names = _names(stmt.typeName)
        return "type", names[0] if len(names) > 1 else None, names[-1], ".".join(names)
    return None


def attached_to(stmt: ast.Node) -> list[str]:
    """Identities a COMMENT / GRANT / REVOKE / ALTER SEQUENCE statement is about, and
    the table an INSERT fills (run when the table is created, never again: its first
    rows, derived from what exists then)."""
    def obj_key(objtype, obj) -> str:
        if isinstance(obj, ast.ObjectWithArgs):
            return _func_key(_names(obj.objname), [_type(t) for t in obj.objargs or ()])
        if isinstance(obj, ast.RangeVar):
            return f"{obj.schemaname}.{obj.relname}" if obj.schemaname else obj.relname
        if isinstance(obj, ast.String):
            return obj.sval
        if isinstance(obj, (list, tuple)):
            return ".".join(_names(obj))
        raise SqlSourceError(f"cannot attach statement to {type(obj).__name__}")

    if isinstance(stmt, ast.CommentStmt):
        return [obj_key(stmt.objtype, stmt.object)]
    if isinstance(stmt, ast.GrantStmt):
        return [obj_key(stmt.objtype, o) for o in stmt.objects]
    if isinstance(stmt, ast.AlterSeqStmt):
        return [obj_key(None, stmt.sequence)]
    if isinstance(stmt, ast.InsertStmt):
        return [obj_key(None, stmt.relation)]
    return []


def fills(text: str) -> bool:
    """Whether a statement attached to a table is its fill (an INSERT: run at creation only)."""
    return isinstance(parse_sql(text)[0].stmt, ast.InsertStmt)


def _statement_text(sql: str, rs: ast.RawStmt) -> str:
    """The statement as written, without the comments and blank lines before it."""
    start = rs.stmt_location or 0
    end = start + rs.stmt_len if rs.stmt_len else len(sql)
    text = sql[start:end]
    try:
        first = _tokens(text)[0].start
    except (ParseError, IndexError):
        first = 0
    return text[first:].strip().rstrip(";").rstrip()


def _referenced_names(text: str, depth: int = 0) -> set[str]:
    """Qualified names (schema.name) that appear in a statement, including inside
    string literals such as function bodies and nextval('...') arguments."""
    names: set[str] = set()
    try:
        tokens = _tokens(text)
    except ParseError:
        return names
    words = [(t, text[t.start:t.end + 1]) for t in tokens]
    for i, (t, w) in enumerate(words):
        if t.name == "SCONST" and depth < 2:
            # look inside literals: function bodies ($tag$...$tag$) and 'regclass' names
            inner = w
            if inner.startswith("$"):
                inner = inner[inner.index("$", 1) + 1:inner.rindex("$", 0, len(inner) - 1)]
                inner = inner[: inner.rfind("$")] if inner.endswith("$") else inner
            else:
                inner = inner.strip("'")
            names |= _referenced_names(inner, depth + 1)
        if i + 2 < len(words) and words[i + 1][1] == "." and t.kind != "RESERVED_KEYWORD":
            names.add(f"{w.strip(chr(34)).lower()}.{words[i + 2][1].strip(chr(34)).lower()}")
    return names


def load_objects(files: tuple[str, ...], sql_dir: Path = SQL_DIR) -> list[DbObject]:
    """Objects declared in `files` (names relative to sql_dir), in file order."""
    order: list[str] = []
    kinds: dict[str, tuple[str, str | None, str]] = {}
    stmts: dict[str, list[str]] = {}
    for fname in files:
        path = sql_dir / fname
        text = path.read_text()
        try:
            raw = parse_sql(text)
        except ParseError as exc:
            raise SqlSourceError(f"{path.name}: {exc}") from None
        for rs in raw:
            stmt_text = _statement_text(text, rs)
            ident = identify(rs.stmt)
            if ident is not None:
                kind, schema, name, identity = ident
                if identity in kinds:
                    raise SqlSourceError(f"{path.name}: {kind} {identity} is declared twice")
                kinds[identity] = (kind, schema, name)
                stmts[identity] = [stmt_text]
                order.append(identity)
                continue
            targets = attached_to(rs.stmt)
            if not targets:
                raise SqlSourceError(
                    f"{path.name}: unsupported statement {type(rs.stmt).__name__}: {stmt_text[:60]}...")
            for target in targets:
                if target not in kinds:
                    raise SqlSourceError(f"{path.name}: statement refers to undeclared object {target}")
                if isinstance(rs.stmt, ast.InsertStmt) and kinds[target][0] != "table":
                    raise SqlSourceError(f"{path.name}: an INSERT can only fill a table, not {target}")
                stmts[target].append(stmt_text)

    deps = references({identity: stmts[identity] for identity in order})
    return [DbObject(kinds[i][0], i, kinds[i][1], kinds[i][2], tuple(stmts[i]), tuple(deps[i])) for i in order]


def references(statements: dict[str, list[str]]) -> dict[str, list[str]]:
    """identity -> the identities of the objects its CREATE statement and a table's
    fill name (its COMMENT text or GRANTs add no dependency). `statements` is in creation order:
    a later object can only be named where PostgreSQL binds late (a PL/pgSQL
    body), and creation order already follows the files, so only earlier ones count."""
    order = list(statements)
    by_qualname: dict[str, list[str]] = {}
    for identity in order:
        by_qualname.setdefault(identity.partition("(")[0].lower(), []).append(identity)
    out = {}
    for identity in order:
        deps: list[str] = []
        first, *attached = statements[identity]
        named = set().union(*(_referenced_names(t) for t in (first, *filter(fills, attached))))
        for qn in sorted(named):
            for dep in by_qualname.get(qn, ()):
                if dep != identity and order.index(dep) < order.index(identity) and dep not in deps:
                    deps.append(dep)
        out[identity] = deps
    return out
