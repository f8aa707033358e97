-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.namespaces (
  namespace_uuid uuid NOT NULL DEFAULT tasker.uuid_generate_v7(),
  name character varying(29) NOT NULL,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT namespaces_pkey PRIMARY KEY (namespace_uuid),
  CONSTRAINT namespaces_name_key UNIQUE (name),
  CONSTRAINT namespaces_name_check CHECK (name::text ~ '^[A-Za-z_][A-Za-z0-9_]*$'::text)
);
