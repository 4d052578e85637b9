-- psql path only: in the Pulumi path the schemas are created by another resource.
CREATE SCHEMA IF NOT EXISTS util;
CREATE SCHEMA IF NOT EXISTS script_tracking;
