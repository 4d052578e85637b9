-- What depends on an object (a function, view or type) that is to be dropped and created
-- again: views (through their rewrite rule) and event triggers by name, so that the plan
-- drops and re-creates them too; anything else by its description, so that the plan can
-- refuse naming it. Only normal and automatic dependencies: internal ones go with the object.
WITH target AS (
    SELECT CASE %(kind)s::text WHEN 'function' THEN 'pg_catalog.pg_proc'::pg_catalog.regclass
                               WHEN 'type' THEN 'pg_catalog.pg_type'::pg_catalog.regclass
                               ELSE 'pg_catalog.pg_class'::pg_catalog.regclass END AS classid,
           CASE %(kind)s::text WHEN 'function' THEN pg_catalog.to_regprocedure(%(identity)s::text)::pg_catalog.oid
                               WHEN 'type' THEN pg_catalog.to_regtype(%(identity)s::text)::pg_catalog.oid
                               ELSE pg_catalog.to_regclass(%(identity)s::text)::pg_catalog.oid END AS objid
)
SELECT COALESCE(pg_catalog.json_agg(DISTINCT pg_catalog.jsonb_build_object(
           'kind', CASE WHEN v.oid IS NOT NULL THEN 'view' WHEN e.oid IS NOT NULL THEN 'event_trigger' END,
           'identity', COALESCE(vn.nspname || '.' || v.relname, e.evtname),
           'description', CASE WHEN v.oid IS NOT NULL THEN pg_catalog.format('view %%s.%%s', vn.nspname, v.relname)
                               ELSE pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) END)), '[]')
FROM target t
JOIN pg_catalog.pg_depend d ON d.refclassid = t.classid AND d.refobjid = t.objid AND d.deptype IN ('n', 'a')
LEFT JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND r.oid = d.objid
LEFT JOIN pg_catalog.pg_class v ON v.oid = r.ev_class AND v.oid <> t.objid
LEFT JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
LEFT JOIN pg_catalog.pg_event_trigger e ON d.classid = 'pg_catalog.pg_event_trigger'::pg_catalog.regclass
                                        AND e.oid = d.objid
WHERE NOT (r.oid IS NOT NULL AND v.oid IS NULL)  -- a view's own rule
