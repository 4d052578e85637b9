-- Live state of an event trigger: event, function, tags and whether it is enabled.
SELECT pg_catalog.json_build_object(
    'event', e.evtevent, 'function', e.evtfoid::pg_catalog.regprocedure::text,
    'enabled', e.evtenabled, 'tags', e.evttags)
FROM pg_catalog.pg_event_trigger e
WHERE e.evtname = %(identity)s::text
