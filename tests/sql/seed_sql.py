"""The validation SQL of the hand-run system we replace, verbatim from
DEPLOYMENT_INSTRUCTIONS.md ("VALIDATION STEPS" and "FINAL VERIFICATION").

Kept as plain strings so every test suite (sql, e2e, Pulumi) runs exactly what the
users run. Do not reformat: the point is that the seed's SQL works unchanged.
"""

# Test 1: Basic Tracking
TEST1_BASIC_TRACKING = "SELECT track_operation('Test Script', 'MAINTENANCE');"

# Test 2: Event Trigger (if enabled)
TEST2_EVENT_TRIGGER = """\
CREATE TABLE test_tracking_table (id INTEGER);
DROP TABLE test_tracking_table;"""
TEST2_STATEMENTS = (
    "CREATE TABLE test_tracking_table (id INTEGER);",
    "DROP TABLE test_tracking_table;",
)

# Test 3: View History
TEST3_VIEW_HISTORY = "SELECT * FROM script_tracking.get_execution_history() LIMIT 10;"

# FINAL VERIFICATION
FINAL_VERIFICATION = """\
DO $$
DECLARE
    v_execution_hk BYTEA;
BEGIN
    -- Test tracking
    v_execution_hk := track_operation('Deployment Verification Test', 'VALIDATION');
    
    -- Test completion
    PERFORM complete_operation(v_execution_hk, true, NULL);
    
    RAISE NOTICE '🎉 Script tracking system is working perfectly!';
END $$;"""
FINAL_VERIFICATION_NOTICE = "🎉 Script tracking system is working perfectly!"

# The object names of the seed that are the users' interface.
SEED_OBJECTS = {
    "schemas": ("util", "script_tracking"),
    "tables": ("script_tracking.script_execution_h", "script_tracking.script_execution_s"),
    "sequences": ("script_tracking.script_execution_version_seq",),
    "functions": (
        "util.log_audit_event",
        "script_tracking.track_operation",
        "script_tracking.complete_operation",
        "script_tracking.get_execution_history",
        "public.track_operation",
        "public.complete_operation",
    ),
    "event_triggers": ("auto_ddl_tracker",),
}
