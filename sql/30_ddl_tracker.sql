-- Automatic DDL tracker: filter table, journal, event trigger functions and a view.
-- The CREATE EVENT TRIGGER statements are in 40_ddl_triggers.sql (optional).
-- Declarative: one object per statement, everything schema-qualified.
--
-- Storage: one row per tracked command in script_tracking.ddl_journal, with two
-- indexes (its key, and the history's name filter). DDL used to be a hub row plus a
-- COMPLETED satellite version (two rows, six indexes, an FK check, a sha256 and a UUID):
-- about 1.8x the time of very cheap DDL, against 1.3-1.6x for the journal
-- (docs/benchmarks.md). Rows recorded that way stay
-- where they are; script_tracking.ddl_history and get_execution_history show both.
-- A journal row's execution_id comes from script_execution_id_seq like a hub
-- row's (ids unique across both stores); its script_execution_hk is not stored:
-- it is 'DDL' || int8send(execution_id), 11 bytes, unique because the id is and
-- never equal to a hub key (32 bytes). A DDL execution is never completed, so it
-- needs no unguessable key; complete_operation does not know it (ST004).
--
-- Exactly once:
--   * ddl_command_end records one execution per row of
--     pg_event_trigger_ddl_commands() (CREATE SCHEMA s CREATE TABLE ... gives
--     one row per created object). DROP statements collect no rows there, so
--     for 'DROP ...' tags ddl_command_end returns at once, touching nothing.
--   * sql_drop records DROP statements (TG_TAG 'DROP ...'): one execution
--     per ORIGINAL dropped object (the ones named in the statement); objects
--     removed by CASCADE (normal dependencies; not views' internal _RETURN
--     rules) are listed in cascaded.
--     sql_drop also fires for ALTER TABLE ... DROP COLUMN/CONSTRAINT etc.:
--     ddl_command_end records the ALTER itself, so sql_drop records such a
--     statement only when CASCADE removed other objects too (the ALTER's row
--     does not name them), the same way as a DROP.
--   * The tracker only runs DML, which fires no event triggers: no recursion.
-- Never breaks the user's DDL: all work runs inside BEGIN ... EXCEPTION WHEN
-- OTHERS (a failure becomes a WARNING with its SQLSTATE), and the functions
-- carry SET lock_timeout = '300ms', so a locked journal delays the DDL by at
-- most ~300 ms per event. Rolled-back DDL leaves no rows (same transaction).
-- (Its subtransaction measured within noise: kept.)
-- Cost: ONE statement per event (numbering, one journal insert for all of the event's
-- commands; the filter's rule only when the filter table has a row); no
-- util.audit_log row: the journal row is the record. Every plan node and expression of
-- it is set up again in each DDL statement's transaction, so it is kept small.
-- statement: ddl_statement_text(), once per event (its fast path,
-- ddl_statement_plain, inlined first): of a query string holding several
-- statements only the command's own, and no secret literal (role passwords,
-- OPTIONS, CONNECTION strings ...): readers see this text.

CREATE TABLE script_tracking.ddl_tracker_filter (
    kind       text        NOT NULL,
    value      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT ddl_tracker_filter_pk PRIMARY KEY (kind, value),
    CONSTRAINT ddl_tracker_filter_kind_ck
        CHECK (kind IN ('include_schema', 'exclude_schema', 'include_tag', 'exclude_tag')),
    CONSTRAINT ddl_tracker_filter_value_ck CHECK (value <> '')
);

COMMENT ON TABLE script_tracking.ddl_tracker_filter IS
'What the DDL tracker records. Empty = everything. kind include_schema/exclude_schema: value is a schema name '
'(exact, case-sensitive; for CREATE/DROP SCHEMA the schema itself). kind include_tag/exclude_tag: value is a '
'command tag such as CREATE TABLE (case-insensitive). If any include rows of a kind exist, only matching commands '
'are tracked (objects without a schema never match include_schema); exclude rows always win. GRANT, REVOKE and '
'ALTER DEFAULT PRIVILEGES name no schema: only tag rows filter them.';

REVOKE ALL ON TABLE script_tracking.ddl_tracker_filter FROM PUBLIC;

-- The filter as the event triggers read it, one row of four arrays (tags upper-cased);
-- a view, so it is expanded into their one cached statement at no cost per event.
CREATE VIEW script_tracking.ddl_tracker_filter_sets AS
SELECT COALESCE(pg_catalog.array_agg(ft.value) FILTER (WHERE ft.kind = 'include_schema'), '{}') AS inc_schema,
       COALESCE(pg_catalog.array_agg(ft.value) FILTER (WHERE ft.kind = 'exclude_schema'), '{}') AS exc_schema,
       COALESCE(pg_catalog.array_agg(pg_catalog.upper(ft.value)) FILTER (WHERE ft.kind = 'include_tag'), '{}') AS inc_tag,
       COALESCE(pg_catalog.array_agg(pg_catalog.upper(ft.value)) FILTER (WHERE ft.kind = 'exclude_tag'), '{}') AS exc_tag
  FROM script_tracking.ddl_tracker_filter ft;

COMMENT ON VIEW script_tracking.ddl_tracker_filter_sets IS
'script_tracking.ddl_tracker_filter as one row: the schemas and (upper-cased) command tags to include and to '
'exclude, each an array (empty = none). Read by ddl_tracker_command_end and ddl_tracker_sql_drop.';

REVOKE ALL ON TABLE script_tracking.ddl_tracker_filter_sets FROM PUBLIC;

-- The filter's rule, once for both trigger functions.
CREATE FUNCTION script_tracking.ddl_filter_allows(p_schema text, p_tag text)
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT NOT COALESCE(p_schema = ANY (f.exc_schema), false)
       AND NOT (pg_catalog.upper(p_tag) = ANY (f.exc_tag))
       AND (pg_catalog.cardinality(f.inc_schema) = 0 OR COALESCE(p_schema = ANY (f.inc_schema), false))
       AND (pg_catalog.cardinality(f.inc_tag) = 0 OR pg_catalog.upper(p_tag) = ANY (f.inc_tag))
      FROM script_tracking.ddl_tracker_filter_sets f
$$;

COMMENT ON FUNCTION script_tracking.ddl_filter_allows(text, text) IS
'Whether script_tracking.ddl_tracker_filter lets the DDL tracker record a command of tag p_tag (any case) on an '
'object of schema p_schema (NULL: an object without a schema).';

REVOKE ALL ON FUNCTION script_tracking.ddl_filter_allows(text, text) FROM PUBLIC;

-- Words that make a text secret-bearing (case-insensitive, anywhere, also inside literals and
-- comments): role passwords, FDW server/user-mapping OPTIONS, subscription CONNECTION strings,
-- password= in connection strings, keys and tokens written into function bodies. One list for
-- the fast path and the lexer: a constant its callers' plans fold in.
CREATE FUNCTION script_tracking.ddl_secret_words()
RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT 'password|passwd|passphrase|pwd|secret|credential|token|api_?key|access_?key'
           '|private_?key|crypt|hmac|connection|options'::text
$$;

COMMENT ON FUNCTION script_tracking.ddl_secret_words() IS
'The words (a case-insensitive regular expression) that make a DDL statement''s text secret-bearing: '
'ddl_statement_text redacts the literals of a text that mentions one.';

REVOKE ALL ON FUNCTION script_tracking.ddl_secret_words() FROM PUBLIC;

-- The fast path of ddl_statement_text, as an SQL function without SET clauses so that the
-- trigger functions' query inlines it: most DDL is recorded without calling the lexer.
-- Three pattern tests, not a test per character: every node of this expression is set up
-- again in each DDL statement's transaction.
CREATE FUNCTION script_tracking.ddl_statement_plain(p_query text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    -- One statement (no ';' followed by anything but blanks and semicolons) that can hold
    -- no secret (no quote, '$' or comment: a secret is always a string constant) or
    -- mentions no secret word.
    SELECT pg_catalog.octet_length(p_query) <= 16384
       AND (p_query OPERATOR(pg_catalog.!~) '[''$/-]'
            OR p_query OPERATOR(pg_catalog.!~*) script_tracking.ddl_secret_words())
       AND p_query OPERATOR(pg_catalog.!~) E';.*[^; \t\n\r]'
$$;

COMMENT ON FUNCTION script_tracking.ddl_statement_plain(text) IS
'True when ddl_statement_text(p_query, ...) is p_query itself (cut at 10,000 characters): one statement that '
'holds no string constant or comment, or mentions no secret word.';

REVOKE ALL ON FUNCTION script_tracking.ddl_statement_plain(text) FROM PUBLIC;

CREATE FUNCTION script_tracking.ddl_statement_text(p_query text, p_tag text, p_objects text[] DEFAULT NULL,
                                                   p_std_strings boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    c_secret CONSTANT text := script_tracking.ddl_secret_words();
    -- (no other initialized declarations: the fast path below runs for nearly every DDL)
    c_withheld text;         -- what a text that cannot be lexed safely becomes
    c_ids text;              -- characters starting an identifier or a dollar-quote tag: letters, _, non-ASCII
    c_idc text;              -- identifier characters: those, digits and $
    c_tag text;              -- a dollar-quote tag (between its $ signs)
    c_nl text;               -- between the parts of a continued string literal
    c_optional text;         -- words of a command that its tag leaves out
    v_q text;                -- the text lexed: p_query, or its first 4,000 characters (v_cut)
    v_cut boolean;
    v_re text;               -- the lexer's regular expression
    v_se text;               -- E'... string literals, continued parts included, without the closing quote
    v_sq text;               -- '... string literals likewise
    v_cmt text;              -- /* */ comments, nested at most 2 deep
    v_tags text;             -- the inline dollar-quote tags' alternatives
    v_restarts integer;      -- passes started after a tag or a comment found directly
    v_work integer;          -- characters lexed in all (every pass and scan)
    v_opaque integer;        -- the token that is a rest not lexed (redacted)
    v_fresh boolean;         -- take the next inline tags
    v_compiled integer;      -- regular expressions made (each new one is compiled)
    v_win integer;           -- a pass lexes this many characters from v_pos
    v_len integer;           -- v_q's length
    v_toks text[];
    v_tok text;
    v_t text[];              -- the tokens, in order; concatenated they are v_q
    v_k text[];              -- their kinds: c code, s literal, d dollar-quoted, i "identifier", m comment, ; semicolon
    v_pos integer;           -- where the current lexer pass starts in v_q (characters)
    v_cur integer;
    v_i integer;
    v_n integer;
    v_depth integer;
    v_part text;
    v_atomic integer[];      -- ';' inside BEGIN ATOMIC ... END: no statement end
    v_ids text;
    v_cnt integer;
    v_paren integer;
    v_s integer[];           -- per token: its statement (NULL for a statement's closing ';')
    v_sid integer[];         -- the non-empty statements: their number,
    v_sf integer[];          -- first token (leading comments left out),
    v_sh text[];             -- leading code (the keywords), upper case
    v_code text[];           -- of the candidates: code and identifiers, literals and comments blanked
    v_keep integer[];
    v_names text[];
    v_score integer[];
    v_out text;
BEGIN
    -- Fast path, no lexing: one statement (no ';' before the trailing blanks and semicolons)
    -- that can hold no secret (no quote, '$' or comment: a secret is always a string constant)
    -- or mentions no secret word. One expression: this runs for nearly every DDL statement.
    -- (the trigger functions test this first themselves, without calling this function)
    IF script_tracking.ddl_statement_plain(p_query) THEN
        RETURN pg_catalog.left(p_query, 10000);
    ELSIF p_query IS NULL THEN
        RETURN NULL;
    END IF;
    -- A query string over 16 kB (a whole migration file, a dump) raises one event per DDL
    -- statement; lexing all of it for each would cost time quadratic in its length. Only its
    -- first 4,000 characters are used then, whole and always redacted (below).
    v_cut := pg_catalog.octet_length(p_query) > 16384;
    -- Second fast path: one dollar-quoted body (a function's) with only code before and after
    -- it (no quote, no '$', no ';' but a last one, no comment but '--' lines) and no secret word.
    -- (Its character classes are spelled out: c_idc and the others are set only past it.)
    IF NOT v_cut AND p_query !~* c_secret THEN
        v_toks := pg_catalog.regexp_match(p_query,
            '^((?:[^;\x27"$/-]|-(?!-)|--[^\n\r]*[\n\r])*)(?<![A-Za-z0-9_\u0080-\U0010FFFF])(\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$)');
        IF v_toks IS NOT NULL THEN
            v_part := pg_catalog.substr(p_query, pg_catalog.length(v_toks[1]) + pg_catalog.length(v_toks[2]) + 1);
            v_i := pg_catalog.strpos(v_part, v_toks[2]);
            IF v_i > 0 AND pg_catalog.substr(v_part, v_i + pg_catalog.length(v_toks[2]))
                           ~ '^(?:[^;\x27"$/-]|-(?!-)|--[^\n\r]*)*(?:;(?:[[:space:]]|--[^\n\r]*)*)?$' THEN
                RETURN pg_catalog.left(p_query, 10000);
            END IF;
        END IF;
    END IF;
    BEGIN
        c_withheld := '<statement withheld: it could not be redacted safely>';
        c_ids := 'A-Za-z_\u0080-\U0010FFFF';
        c_idc := c_ids || '0-9$';
        c_tag := '[' || c_ids || '][' || c_ids || '0-9]*';
        -- PostgreSQL's {whitespace_with_newline} (scan.l): blanks and -- comments, a newline (\n or
        -- \r), then any blanks, newlines and -- comments ending in a newline. A string literal, this
        -- and a quote: the literal goes on (E'a' --x<newline>'\'b' is a'b). /* */ does not count.
        c_nl := '(?:[ \t\f\v]|--[^\n\r]*)*[\n\r](?:[ \t\n\r\f\v]|--[^\n\r]*[\n\r])*';
        c_optional := '(?:[^' || c_idc || ']+(?:OR|REPLACE|TEMP|TEMPORARY|UNLOGGED|GLOBAL|LOCAL|UNIQUE|TRUSTED|PROCEDURAL|DEFAULT|CONSTRAINT|RECURSIVE))';
        v_atomic := '{}';
        v_keep := '{}';
        -- String literals, without their closing quote: E'...' with backslash escapes (also in
        -- the parts continuing it), '...' (also U&'...', B'...', X'...', N'...', typename '...').
        v_part := '(?:[^\x27\\]|\x27\x27|\\.)*';
        v_se := '[Ee]\x27' || v_part || '(?:\x27' || c_nl || '\x27' || v_part || ')*';
        IF p_std_strings THEN
            v_part := '(?:[^\x27]|\x27\x27)*';
        END IF;
        v_sq := '\x27' || v_part || '(?:\x27' || c_nl || '\x27' || v_part || ')*';
        -- /* */ comments, also with comments nested in them (not deeper: those are scanned for
        -- below). Between the nested ones no /* and no */ (PostgreSQL reads /*/ as an opening,
        -- **/ as a closing).
        v_part := '(?:[^/*]|/+[^/*]|\*+[^/*])*';
        v_cmt := '/\*' || v_part || '(?:/*/\*' || v_part || '\*+/' || v_part || ')*\*+/';
        -- 1. Tokens, by one regular expression (in C) per pass over a window of the text.
        --    Dollar-quote tags are matched inline, up to 8 distinct ones (the first ones from
        --    where the pass starts). Another tag, or a comment nested deeper, ends the pass: its
        --    end is found directly (a restart) and the next pass, over a small window, starts
        --    after it. A pass that does not reach the end keeps only the tokens that text after
        --    its window cannot change: not the last one, nor a literal followed by nothing but
        --    blanks and -- comments (it may go on), nor a lone $ (a cut tag); a window holding
        --    none grows. Bounded work: after 64 restarts or 64k characters lexed, the tokens so
        --    far and the rest as one redacted token are taken as those of a long text are (its
        --    first 4,000 characters, always redacted): tens of ms at most.
        v_q := CASE WHEN v_cut THEN pg_catalog.substr(p_query, 1, 4000) ELSE p_query END;
        v_len := pg_catalog.length(v_q);
        v_t := '{}';
        v_pos := 1;
        v_win := 8192;
        v_restarts := 0;
        v_work := 0;
        v_fresh := true;
        v_compiled := 0;
        LOOP
            v_part := pg_catalog.substr(v_q, v_pos, v_win);
            IF v_fresh THEN
                -- the inline tags: the first 8 from here (again after a restart for another tag,
                -- 4 times at most: each new expression costs ~1 ms to compile)
                v_fresh := false;
                v_compiled := v_compiled + 1;
                v_tags := NULL;
                IF pg_catalog.substr(v_q, v_pos, 2048) ~ ('\$[' || c_ids || ']') THEN
                    SELECT pg_catalog.string_agg('\$' || x.tag || '\$(?:[^$]|\$(?!' || x.tag || '\$))*(?:\$' || x.tag || '\$)?',
                                                 '|' ORDER BY x.first)
                      INTO v_tags
                      FROM (SELECT r.m[1] AS tag, pg_catalog.min(r.n) AS first
                              FROM pg_catalog.regexp_matches(pg_catalog.substr(v_q, v_pos, 2048), '\$(' || c_tag || ')\$', 'g')
                                   WITH ORDINALITY r(m, n)
                             WHERE pg_catalog.length(r.m[1]) < 64
                             GROUP BY r.m[1]
                             ORDER BY 2
                             LIMIT 8) x;
                END IF;
                v_re := pg_catalog.concat_ws('|',
                    '(?<![' || c_idc || '])' || v_se || '\x27?',
                    v_sq || '\x27?',
                    '"(?:[^"]|"")*"?',
                    '\$[$](?:[^$]|\$(?![$]))*(?:\$[$])?',
                    v_tags,
                    '\$' || c_tag || '\$',
                    '--[^\n\r]*',
                    v_cmt,
                    ';',
                    '(?:[^\x27"$;/Ee-]|[Ee](?!\x27)|(?<=[' || c_idc || '])[Ee$]|\$(?=[0-9])|-(?!-)|/(?!\*))+',
                    '.');
            END IF;
            v_work := v_work + pg_catalog.length(v_part);
            v_toks := ARRAY(SELECT m[1] FROM pg_catalog.regexp_matches(v_part, v_re, 'g') m);
            v_n := pg_catalog.cardinality(v_toks);
            IF v_pos + v_win <= v_len THEN
                -- not the end: the tokens kept, up to the last one but blanks; a literal before
                -- those, or a lone $ (a tag cut by the window), left out too
                v_n := v_n - 1;
                WHILE v_n > 0 AND v_toks[v_n] ~ '^(?:[ \t\n\r\f\v]+$|--)' LOOP
                    v_n := v_n - 1;
                END LOOP;
                IF v_n > 0 AND (v_toks[v_n] ~ '^[Ee]?\x27' OR v_toks[v_n] = '$') THEN
                    v_n := v_n - 1;
                END IF;
            END IF;
            -- the first token needing more: an opening tag alone, a comment too deep or unended
            SELECT pg_catalog.min(u.n) INTO v_i
              FROM pg_catalog.unnest(v_toks[1:v_n]) WITH ORDINALITY u(tok, n)
             WHERE (pg_catalog.left(u.tok, 1) = '$'
                    AND pg_catalog.strpos(pg_catalog.substr(u.tok, 2), '$') = pg_catalog.length(u.tok) - 1
                    AND pg_catalog.strpos('0123456789', pg_catalog.substr(u.tok, 2, 1)) = 0)
                OR (u.tok = '/' AND pg_catalog.left(v_toks[u.n + 1], 1) = '*');
            IF v_i IS NULL AND v_pos + v_win > v_len THEN
                v_t := v_t || v_toks;
                EXIT;
            ELSIF v_i IS NULL AND v_n > 0 THEN
                v_t := v_t || v_toks[1:v_n];
                v_pos := v_pos + pg_catalog.length(pg_catalog.array_to_string(v_toks[1:v_n], ''));
                v_win := GREATEST(v_win, LEAST(2 * v_win, 8192));
            ELSIF v_i IS NULL THEN
                v_win := 4 * v_win;                       -- a token longer than the window
            ELSE
                v_t := v_t || v_toks[1:v_i - 1];
                v_cur := v_pos + pg_catalog.length(pg_catalog.array_to_string(v_toks[1:v_i - 1], ''));
                v_tok := v_toks[v_i];
                IF v_tok = '/' THEN
                    -- a comment nested deeper (or cut by the window): up to where its depth is
                    -- back at 0 (NULL: no end), looked for in growing parts of the rest
                    v_i := 64;
                    LOOP
                        v_i := 4 * v_i;
                        v_part := pg_catalog.substr(v_q, v_cur, v_i);
                        v_work := v_work + pg_catalog.length(v_part);
                        SELECT pg_catalog.min(x.len) INTO v_n
                          FROM (SELECT pg_catalog.sum(pg_catalog.length(r.m[1])) OVER w AS len,
                                       pg_catalog.sum(CASE WHEN pg_catalog.right(r.m[1], 2) = '/*' THEN 1 ELSE -1 END) OVER w AS depth
                                  FROM pg_catalog.regexp_matches(v_part, '(?:[^/*]|/(?!\*)|\*(?!/))*(?:/\*|\*/)', 'g')
                                       WITH ORDINALITY r(m, n)
                                WINDOW w AS (ORDER BY r.n)) x
                         WHERE x.depth = 0;
                        EXIT WHEN v_n IS NOT NULL OR v_cur + v_i > v_len;
                    END LOOP;
                    v_tok := pg_catalog.substr(v_q, v_cur, v_n);
                ELSE
                    -- an opening dollar-quote tag: up to the same tag
                    v_i := pg_catalog.strpos(pg_catalog.substr(v_q, v_cur + pg_catalog.length(v_tok)), v_tok);
                    v_tok := CASE WHEN v_i > 0 THEN pg_catalog.substr(v_q, v_cur, 2 * pg_catalog.length(v_tok) + v_i - 1) END;
                    v_fresh := v_compiled < 4;
                END IF;
                IF v_tok IS NULL AND v_cut THEN
                    v_t := v_t || pg_catalog.substr(v_q, v_cur);   -- cut inside it: the rest is that token
                    EXIT;
                ELSIF v_tok IS NULL THEN
                    v_t := NULL;
                    EXIT;
                END IF;
                v_t := v_t || v_tok;
                -- a restart (not for a comment or body going on past the window: few can)
                IF v_cur + pg_catalog.length(v_tok) <= v_pos + v_win THEN
                    v_restarts := v_restarts + 1;
                    v_win := 512;
                END IF;
                v_pos := v_cur + pg_catalog.length(v_tok);
            END IF;
            EXIT WHEN v_pos > v_len;
            IF v_restarts >= 64 OR v_work > 65536 THEN
                v_t := v_t || pg_catalog.substr(v_q, v_pos);
                v_opaque := pg_catalog.cardinality(v_t);          -- the rest: one token, redacted
                v_cut := true;
                EXIT;
            END IF;
        END LOOP;
        IF v_cut AND v_len > 4000 AND v_t IS NOT NULL THEN
            -- cut after bounded work: the tokens of the first 4,000 characters
            v_t := ARRAY(SELECT CASE WHEN x.e > 4000 THEN pg_catalog.left(x.tok, 4000 - (x.e - pg_catalog.length(x.tok)))
                                     ELSE x.tok END
                           FROM (SELECT u.tok, u.n, pg_catalog.sum(pg_catalog.length(u.tok)) OVER (ORDER BY u.n)::integer AS e
                                   FROM pg_catalog.unnest(v_t) WITH ORDINALITY u(tok, n)) x
                          WHERE x.e - pg_catalog.length(x.tok) < 4000
                          ORDER BY x.n);
        END IF;
        v_k := ARRAY(SELECT CASE WHEN u.tok = ';' THEN ';'
                                 WHEN pg_catalog.left(u.tok, 1) = '''' THEN 's'
                                 WHEN pg_catalog.left(u.tok, 1) IN ('E', 'e') AND pg_catalog.substr(u.tok, 2, 1) = '''' THEN 's'
                                 WHEN pg_catalog.left(u.tok, 1) = '"' THEN 'i'
                                 WHEN pg_catalog.left(u.tok, 1) = '$' AND pg_catalog.length(u.tok) > 1
                                      AND pg_catalog.strpos('0123456789', pg_catalog.substr(u.tok, 2, 1)) = 0 THEN 'd'
                                 WHEN pg_catalog.left(u.tok, 2) IN ('--', '/*') THEN 'm'
                                 ELSE 'c' END
                       FROM pg_catalog.unnest(v_t) WITH ORDINALITY u(tok, n)
                      ORDER BY u.n);
        v_n := pg_catalog.cardinality(v_t);
        IF v_opaque <= v_n THEN
            v_k[v_opaque] := 's';
        END IF;
        -- The query was valid SQL, so a last token without its end means the lexer went wrong.
        IF v_t IS NULL OR (v_n > 0 AND NOT v_cut AND CASE v_k[v_n]
                WHEN 's' THEN v_t[v_n] !~ ('^(?:' || v_se || '|' || v_sq || ')\x27$')
                WHEN 'i' THEN v_t[v_n] !~ '^"(?:[^"]|"")*"$'
                WHEN 'd' THEN pg_catalog.length(v_t[v_n]) < 2 * pg_catalog.length(pg_catalog.substring(v_t[v_n], '^\$[^$]*\$'))
                              OR NOT pg_catalog.starts_with(pg_catalog.reverse(v_t[v_n]),
                                                            pg_catalog.reverse(pg_catalog.substring(v_t[v_n], '^\$[^$]*\$')))
                ELSE false END) THEN
            RETURN CASE WHEN p_query ~* c_secret THEN c_withheld ELSE pg_catalog.left(p_query, 10000) END;
        END IF;

        -- 2. Statements: split at ';' outside parentheses and outside BEGIN ... END of a
        --    CREATE [OR REPLACE] FUNCTION | PROCEDURE (psql's rule; SQL-standard bodies).
        IF v_cut THEN
            -- the first 4,000 characters, whole, always redacted: a secret word that marks a
            -- literal among them may come after them
            v_keep := ARRAY[0];
        ELSIF v_q ~* 'atomic' THEN
            v_ids := '';
            v_cnt := 0;
            v_paren := 0;
            v_depth := 0;
            FOR v_i, v_part IN
                SELECT u.n, pg_catalog.lower(m[1])
                  FROM ROWS FROM (pg_catalog.unnest(v_t), pg_catalog.unnest(v_k)) WITH ORDINALITY u(tok, kind, n),
                       pg_catalog.regexp_matches(u.tok, '[();]|[' || c_ids || '][' || c_idc || ']*', 'g') m
                 WHERE u.kind IN ('c', ';')
                 ORDER BY u.n
            LOOP
                IF v_part = '(' THEN
                    v_paren := v_paren + 1;
                ELSIF v_part = ')' THEN
                    v_paren := GREATEST(v_paren - 1, 0);
                ELSIF v_part = ';' THEN
                    IF v_paren = 0 AND v_depth > 0 THEN
                        v_atomic := v_atomic || v_i;
                    ELSIF v_paren = 0 THEN
                        v_ids := '';
                        v_cnt := 0;
                    END IF;
                ELSE
                    IF v_cnt < 4 THEN
                        v_ids := v_ids || CASE WHEN v_part IN ('create', 'function', 'procedure', 'or', 'replace')
                                               THEN pg_catalog.left(v_part, 1) ELSE '-' END;
                    END IF;
                    v_cnt := v_cnt + 1;
                    IF v_paren = 0 AND v_ids ~ '^c(f|p|or(f|p))' THEN
                        IF v_part = 'begin' OR (v_part = 'case' AND v_depth >= 1) THEN
                            v_depth := v_depth + 1;
                        ELSIF v_part = 'end' AND v_depth > 0 THEN
                            v_depth := v_depth - 1;
                        END IF;
                    END IF;
                END IF;
            END LOOP;
        END IF;
        IF NOT v_cut THEN
            -- (statements; with v_cut the whole window is kept, see above)
            v_s := ARRAY(SELECT CASE WHEN d.term THEN NULL ELSE d.stmt END
                           FROM (SELECT c.n, c.term,
                                        pg_catalog.count(*) FILTER (WHERE c.term)
                                            OVER (ORDER BY c.n ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS stmt
                                   FROM (SELECT u.n,
                                                u.kind = ';' AND NOT (u.n = ANY (v_atomic))
                                                AND pg_catalog.sum(CASE WHEN u.kind = 'c'
                                                        THEN pg_catalog.length(pg_catalog.replace(u.tok, ')', ''))
                                                             - pg_catalog.length(pg_catalog.replace(u.tok, '(', ''))
                                                        ELSE 0 END) OVER (ORDER BY u.n) <= 0 AS term
                                           FROM ROWS FROM (pg_catalog.unnest(v_t), pg_catalog.unnest(v_k)) WITH ORDINALITY u(tok, kind, n)) c) d
                          ORDER BY d.n);
            SELECT pg_catalog.array_agg(x.stmt ORDER BY x.stmt), pg_catalog.array_agg(x.first ORDER BY x.stmt),
                   pg_catalog.array_agg(x.head ORDER BY x.stmt)
              INTO v_sid, v_sf, v_sh
              FROM (SELECT g.stmt,
                           pg_catalog.min(g.n) FILTER (WHERE g.kind <> 'm' AND (g.kind <> 'c' OR pg_catalog.btrim(g.tok, E' \t\n\r\f\v') <> '')) AS first,
                           pg_catalog.upper(pg_catalog.left(pg_catalog.string_agg(CASE g.kind WHEN 'c' THEN g.tok ELSE ' ' END, '' ORDER BY g.n)
                                                                FILTER (WHERE g.kind IN ('c', 'm') AND g.n < g.stop), 200)) AS head
                      FROM (SELECT u.*,
                                   COALESCE(pg_catalog.min(u.n) FILTER (WHERE u.kind IN ('s', 'd', 'i')) OVER (PARTITION BY u.stmt),
                                            v_n + 1) AS stop
                              FROM ROWS FROM (pg_catalog.unnest(v_t), pg_catalog.unnest(v_k), pg_catalog.unnest(v_s))
                                   WITH ORDINALITY u(tok, kind, stmt, n)
                             WHERE u.stmt IS NOT NULL) g
                     GROUP BY g.stmt
                    HAVING pg_catalog.bool_or(g.kind IN ('s', 'd', 'i') OR (g.kind = 'c' AND pg_catalog.btrim(g.tok, E' \t\n\r\f\v') <> ''))) x;

            -- 3. Of several statements keep those whose leading keywords match the command tag
            --    (optional words such as OR REPLACE, TEMP, UNIQUE ignored) and, of several such,
            --    those naming the event's objects best. None: the whole query string.
            IF pg_catalog.cardinality(v_sf) > 1 THEN
                -- the tag's words, each followed by any optional ones: 'CREATE TABLE' matches
                -- CREATE GLOBAL TEMP TABLE, 'CREATE FUNCTION' CREATE OR REPLACE FUNCTION
                v_part := '^[^' || c_idc || ']*' || pg_catalog.array_to_string(pg_catalog.string_to_array(
                    CASE pg_catalog.upper(p_tag) WHEN 'CREATE TABLE AS' THEN 'CREATE TABLE'
                                                 WHEN 'SELECT INTO' THEN '(SELECT|WITH)'
                                                 ELSE pg_catalog.regexp_replace(pg_catalog.upper(p_tag), '[^A-Z ]', '', 'g') END,
                    ' '), c_optional || '*[^' || c_idc || ']+') || '([^' || c_idc || ']|$)';
                v_keep := ARRAY(SELECT s.i FROM pg_catalog.generate_subscripts(v_sf, 1) s(i)
                                 WHERE v_sh[s.i] ~ v_part
                                 ORDER BY s.i);
                IF pg_catalog.cardinality(v_keep) > 1 AND pg_catalog.cardinality(p_objects) > 0 THEN
                    -- the names in the objects' identities (argument lists and schema public left out)
                    v_names := ARRAY(SELECT DISTINCT m[1]
                                       FROM pg_catalog.unnest(p_objects) o(ident),
                                            pg_catalog.regexp_matches(pg_catalog.regexp_replace(o.ident, '\(.*$', ''),
                                                                      '("(?:[^"]|"")+"|[a-z0-9_]+)', 'g') m
                                      WHERE m[1] NOT IN ('public', 'on', 'server', 'for'));
                    -- each candidate's code and identifiers (literals and comments blanked)
                    v_code := ARRAY(SELECT c.code
                                      FROM pg_catalog.unnest(v_keep) WITH ORDINALITY k(i, o)
                                      LEFT JOIN (SELECT u.stmt, pg_catalog.string_agg(CASE WHEN u.kind IN ('c', 'i') THEN u.tok ELSE ' ' END,
                                                                                      '' ORDER BY u.n) AS code
                                                   FROM ROWS FROM (pg_catalog.unnest(v_t), pg_catalog.unnest(v_k), pg_catalog.unnest(v_s))
                                                        WITH ORDINALITY u(tok, kind, stmt, n)
                                                   JOIN pg_catalog.unnest(v_keep) kk(i) ON u.stmt = v_sid[kk.i]
                                                  GROUP BY u.stmt) c ON c.stmt = v_sid[k.i]
                                     ORDER BY k.o);
                    v_score := ARRAY(SELECT (SELECT pg_catalog.count(*)
                                               FROM pg_catalog.unnest(v_names) nm(name)
                                              WHERE CASE WHEN nm.name LIKE '"%'
                                                         THEN pg_catalog.strpos(v_code[k.o], nm.name) > 0
                                                         ELSE pg_catalog.strpos(pg_catalog.lower(v_code[k.o]), nm.name) > 0
                                                              AND pg_catalog.lower(v_code[k.o]) ~ ('(^|[^' || c_idc || '])' || nm.name || '($|[^' || c_idc || '])') END)::integer
                                       FROM pg_catalog.unnest(v_keep) WITH ORDINALITY k(i, o)
                                      ORDER BY k.o);
                    IF (SELECT pg_catalog.max(x) FROM pg_catalog.unnest(v_score) x) > 0 THEN
                        v_keep := ARRAY(SELECT v_keep[x.j] FROM pg_catalog.generate_subscripts(v_score, 1) x(j)
                                         WHERE v_score[x.j] = (SELECT pg_catalog.max(y) FROM pg_catalog.unnest(v_score) y)
                                         ORDER BY x.j);
                    END IF;
                END IF;
            END IF;
            IF pg_catalog.cardinality(v_keep) = 0 THEN
                IF p_query !~* c_secret THEN
                    RETURN pg_catalog.left(p_query, 10000);
                END IF;
                v_keep := ARRAY[0];   -- 0: the whole query string
            END IF;
        END IF;

        -- 4. A kept text that mentions a secret word loses every literal and dollar-quoted body
        --    (each becomes '<redacted>') and every comment.
        IF v_keep = ARRAY[0] THEN
            v_out := (SELECT pg_catalog.string_agg(CASE WHEN u.kind IN ('s', 'd') THEN '''<redacted>'''
                                                        WHEN u.kind = 'm' THEN ' '
                                                        ELSE u.tok END, '' ORDER BY u.n)
                        FROM ROWS FROM (pg_catalog.unnest(v_t), pg_catalog.unnest(v_k)) WITH ORDINALITY u(tok, kind, n));
            RETURN pg_catalog.left(pg_catalog.regexp_replace(v_out, '^[[:space:]]+|[[:space:]]+$', '', 'g'), 10000);
        END IF;
        FOR v_i IN 0 .. 1 LOOP
            -- 0: as written; 1 (when that mentions a secret word): redacted
            SELECT pg_catalog.string_agg(x.txt, ';' || pg_catalog.chr(10) ORDER BY x.i)
              INTO v_out
              FROM (SELECT k.i,
                           pg_catalog.regexp_replace(
                               pg_catalog.string_agg(CASE WHEN v_i = 0 THEN u.tok
                                                          WHEN u.kind IN ('s', 'd') THEN '''<redacted>'''
                                                          WHEN u.kind = 'm' THEN ' '
                                                          ELSE u.tok END, '' ORDER BY u.n),
                               '^[[:space:]]+|[[:space:]]+$', '', 'g') AS txt
                      FROM ROWS FROM (pg_catalog.unnest(v_t), pg_catalog.unnest(v_k), pg_catalog.unnest(v_s))
                           WITH ORDINALITY u(tok, kind, stmt, n)
                      JOIN (SELECT k.i, v_sid[k.i] AS sid, v_sf[k.i] AS first FROM pg_catalog.unnest(v_keep) k(i)) k
                        ON u.stmt = k.sid AND u.n >= k.first
                     GROUP BY k.i) x;
            EXIT WHEN v_out !~* c_secret;
        END LOOP;
        RETURN pg_catalog.left(v_out, 10000);
    EXCEPTION WHEN OTHERS THEN
        RETURN CASE WHEN p_query ~* c_secret THEN c_withheld ELSE pg_catalog.left(p_query, 10000) END;
    END;
END;
$$;

COMMENT ON FUNCTION script_tracking.ddl_statement_text(text, text, text[], boolean) IS
'The statement text the DDL tracker records for one event (details.statement): of a query string holding several '
'statements, those whose leading keywords match the command tag p_tag, of several such those naming the objects '
'p_objects (the whole query string if none matches); when that text mentions a secret word (PASSWORD, OPTIONS, '
'CONNECTION, SECRET, TOKEN, CRYPT, ...) every string literal and dollar-quoted body becomes ''<redacted>'' and '
'comments are dropped; cut at 10,000 characters. p_std_strings: the session''s standard_conforming_strings. '
'Bounded work (a text whose lexing would start over too often is taken like one over 16 kB: its first 4,000 '
'characters, redacted). Never raises (a text it cannot lex safely is withheld).';

REVOKE ALL ON FUNCTION script_tracking.ddl_statement_text(text, text, text[], boolean) FROM PUBLIC;

CREATE TABLE script_tracking.ddl_journal (
    executed_at      timestamptz NOT NULL,
    execution_id     bigint      NOT NULL,
    version_number   bigint      NOT NULL,
    end_time         timestamptz NOT NULL,
    event            text        NOT NULL,
    command_tag      text        NOT NULL,
    object_type      text,
    object_identity  text,
    schema_name      text,
    in_extension     boolean,
    is_temporary     boolean,
    cascaded         jsonb,
    statement        text,
    db_session_user  text        NOT NULL,
    client_addr      inet,
    application_name text,
    -- newest-first walks (get_execution_history, purge) in (start, id) order
    CONSTRAINT ddl_journal_pk PRIMARY KEY (executed_at, execution_id)
    -- No CHECK on event: only the two trigger functions write here, each its own constant,
    -- and a CHECK's expression is read and planned again in every DDL statement (~7 % of
    -- the tracker's time, docs/benchmarks.md).
);

COMMENT ON TABLE script_tracking.ddl_journal IS
'DDL recorded by the event triggers: one row per tracked command (event ddl_command_end) or dropped object '
'(event sql_drop), each a COMPLETED execution of script type DDL named AUTO_DDL_<command tag>. executed_at is the '
'statement''s start (statement_timestamp), end_time when it was recorded; execution_id from script_execution_id_seq, '
'version_number from script_execution_version_seq (as the hub and satellite draw them). Insert-only; '
'purge_executions deletes old rows. Read it through script_tracking.ddl_history or get_execution_history.';

REVOKE ALL ON TABLE script_tracking.ddl_journal FROM PUBLIC;

-- get_execution_history(p_script_name => 'AUTO_DDL_...'), newest first, so a rare command
-- is not a journal scan. On the tag itself, not on the name the history shows: an index
-- expression is set up again in every DDL statement (~4 % of the tracker's time).
CREATE INDEX ddl_journal_tag_recent_idx
    ON script_tracking.ddl_journal (command_tag, executed_at DESC, execution_id DESC);

CREATE FUNCTION script_tracking.ddl_tracker_command_end()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '300ms'
AS $$
DECLARE
    v_query text;
    v_stmt  text;
BEGIN
    -- DROP statements collect no commands here (sql_drop records them):
    -- leave at once, without touching any table.
    IF TG_TAG LIKE 'DROP %' THEN
        RETURN;
    END IF;
    BEGIN
        -- the statement text, once per event: this command's statement only, secrets
        -- redacted; the lexer only when the inlined fast path cannot tell
        v_query := pg_catalog.current_query();
        IF script_tracking.ddl_statement_plain(v_query) THEN
            v_stmt := pg_catalog.left(v_query, 10000);
        ELSE
            v_stmt := script_tracking.ddl_statement_text(v_query, TG_TAG,
                          ARRAY(SELECT d.object_identity FROM pg_catalog.pg_event_trigger_ddl_commands() d),
                          pg_catalog.current_setting('standard_conforming_strings') = 'on');
        END IF;
        -- One plain statement per event (its plan is cached and cheap to start: each node
        -- costs every DDL statement): filter, number and insert one row per command.
        INSERT INTO script_tracking.ddl_journal
            (executed_at, execution_id, version_number, end_time, event, command_tag, object_type, object_identity,
             schema_name, in_extension, statement, db_session_user, client_addr, application_name)
        SELECT pg_catalog.statement_timestamp(),
               pg_catalog.nextval('script_tracking.script_execution_id_seq'::pg_catalog.regclass),
               pg_catalog.nextval('script_tracking.script_execution_version_seq'::pg_catalog.regclass),
               pg_catalog.clock_timestamp(), 'ddl_command_end', c.command_tag, c.object_type, c.object_identity,
               c.sch, c.in_extension, v_stmt,
               SESSION_USER, pg_catalog.inet_client_addr(), pg_catalog.current_setting('application_name', true)
          FROM (SELECT d.command_tag, d.object_type, d.object_identity, d.in_extension, d.ord,
                       -- a schema's own name (its identity is quoted: "My Schema")
                       CASE WHEN d.object_type = 'schema' THEN (pg_catalog.parse_ident(d.object_identity))[1]
                            ELSE d.schema_name END AS sch
                  FROM pg_catalog.pg_event_trigger_ddl_commands()
                       WITH ORDINALITY AS d(classid, objid, objsubid, command_tag, object_type, schema_name,
                                            object_identity, in_extension, command, ord)) c
         -- the filter only when it has a row (most installations never filter): an
         -- InitPlan, one scan per event, instead of a function call per command
         WHERE NOT EXISTS (SELECT FROM script_tracking.ddl_tracker_filter)
            OR script_tracking.ddl_filter_allows(c.sch, c.command_tag)
         ORDER BY c.ord;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'script_tracking: DDL tracking skipped for % (SQLSTATE %): %', TG_TAG, SQLSTATE, SQLERRM
            USING HINT = 'The DDL itself succeeded; only its tracking record is missing.';
    END;
END;
$$;

COMMENT ON FUNCTION script_tracking.ddl_tracker_command_end() IS
'Event trigger function (ddl_command_end, trigger auto_ddl_tracker): records each command of '
'pg_event_trigger_ddl_commands() as one row of script_tracking.ddl_journal. Never raises: failures become a WARNING.';

REVOKE ALL ON FUNCTION script_tracking.ddl_tracker_command_end() FROM PUBLIC;

CREATE FUNCTION script_tracking.ddl_tracker_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '300ms'
AS $$
DECLARE
    v_query text;
    v_stmt  text;
BEGIN
    BEGIN
        -- the statement text, once per event (as in ddl_tracker_command_end)
        v_query := pg_catalog.current_query();
        IF script_tracking.ddl_statement_plain(v_query) THEN
            v_stmt := pg_catalog.left(v_query, 10000);
        ELSE
            v_stmt := script_tracking.ddl_statement_text(v_query, TG_TAG,
                          ARRAY(SELECT o.object_identity FROM pg_catalog.pg_event_trigger_dropped_objects() o
                                 WHERE o.original),
                          pg_catalog.current_setting('standard_conforming_strings') = 'on');
        END IF;
        -- One statement per event: one journal row per ORIGINAL dropped object, the
        -- objects removed by CASCADE (normal dependencies; not views' internal _RETURN
        -- rules) in its cascaded column. Other tags (ALTER TABLE ... DROP COLUMN) have
        -- their row from ddl_command_end: here only when CASCADE removed more than that
        -- row names.
        INSERT INTO script_tracking.ddl_journal
            (executed_at, execution_id, version_number, end_time, event, command_tag, object_type, object_identity,
             schema_name, is_temporary, cascaded, statement, db_session_user, client_addr, application_name)
        SELECT pg_catalog.statement_timestamp(),
               pg_catalog.nextval('script_tracking.script_execution_id_seq'::pg_catalog.regclass),
               pg_catalog.nextval('script_tracking.script_execution_version_seq'::pg_catalog.regclass),
               pg_catalog.clock_timestamp(), 'sql_drop', TG_TAG, d.object_type, d.object_identity, d.sch,
               d.is_temporary, c.cascaded, v_stmt,
               SESSION_USER, pg_catalog.inet_client_addr(), pg_catalog.current_setting('application_name', true)
          FROM (SELECT o.is_temporary, o.object_type, o.object_identity, o.ord,
                       -- a schema's own name (object_name: unquoted)
                       CASE WHEN o.object_type = 'schema' THEN o.object_name ELSE o.schema_name END AS sch
                  FROM pg_catalog.pg_event_trigger_dropped_objects()
                       WITH ORDINALITY AS o(classid, objid, objsubid, original, normal, is_temporary, object_type,
                                            schema_name, object_name, object_identity, address_names, address_args, ord)
                 WHERE o.original) d,
               (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('object_type', o.object_type,
                                                                                   'object_identity', o.object_identity)
                                                     ORDER BY o.ord), '[]'::jsonb) AS cascaded
                  FROM pg_catalog.pg_event_trigger_dropped_objects()
                       WITH ORDINALITY AS o(classid, objid, objsubid, original, normal, is_temporary, object_type,
                                            schema_name, object_name, object_identity, address_names, address_args, ord)
                 WHERE NOT o.original AND o.normal
                   AND NOT (o.object_type = 'rule' AND o.object_identity LIKE '"\_RETURN" on %')) c
         WHERE (TG_TAG LIKE 'DROP %' OR c.cascaded <> '[]'::jsonb)
           AND (NOT EXISTS (SELECT FROM script_tracking.ddl_tracker_filter)  -- as in ddl_command_end
                OR script_tracking.ddl_filter_allows(d.sch, TG_TAG))
         ORDER BY d.ord;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'script_tracking: DDL tracking skipped for % (SQLSTATE %): %', TG_TAG, SQLSTATE, SQLERRM
            USING HINT = 'The DDL itself succeeded; only its tracking record is missing.';
    END;
END;
$$;

COMMENT ON FUNCTION script_tracking.ddl_tracker_sql_drop() IS
'Event trigger function (sql_drop, trigger auto_ddl_tracker_drop): records each object named in a DROP statement '
'as one row of script_tracking.ddl_journal (cascaded objects in its cascaded column); of another statement that '
'drops objects (ALTER TABLE ... DROP COLUMN, recorded by ddl_command_end) only when CASCADE removed other objects '
'too. Never raises: failures become a WARNING.';

REVOKE ALL ON FUNCTION script_tracking.ddl_tracker_sql_drop() FROM PUBLIC;

-- Both stores: the journal, and the hub and satellite rows an earlier release recorded
-- (found through the hub's type index: trigger rows are always of type DDL).
CREATE VIEW script_tracking.ddl_history AS
SELECT h.execution_id,
       h.script_execution_hk,
       h.load_date                         AS executed_at,
       s.details ->> 'command_tag'         AS command_tag,
       s.details ->> 'object_type'         AS object_type,
       s.details ->> 'object_identity'     AS object_identity,
       s.details ->> 'schema_name'         AS schema_name,
       s.db_session_user,
       s.client_addr,
       s.application_name,
       s.details ->> 'statement'           AS statement,
       s.details -> 'cascaded'             AS cascaded,
       h.record_source
  FROM script_tracking.script_execution_h h
  JOIN script_tracking.script_execution_s s ON s.script_execution_hk = h.script_execution_hk
 WHERE h.script_type = 'DDL'
   AND h.record_source IN ('event_trigger:ddl_command_end', 'event_trigger:sql_drop')
UNION ALL
SELECT j.execution_id,
       pg_catalog.decode('44444c', 'hex') || pg_catalog.int8send(j.execution_id),  -- 'DDL' and the id
       j.executed_at,
       j.command_tag,
       j.object_type,
       j.object_identity,
       j.schema_name,
       j.db_session_user,
       j.client_addr,
       j.application_name,
       j.statement,
       j.cascaded,
       'event_trigger:' || j.event
  FROM script_tracking.ddl_journal j;

COMMENT ON VIEW script_tracking.ddl_history IS
'DDL recorded by the event triggers, one row per tracked command/dropped object; order by execution_id. '
'Rows of script_tracking.ddl_journal and those an earlier release recorded as hub and satellite rows.';

REVOKE ALL ON TABLE script_tracking.ddl_history FROM PUBLIC;
