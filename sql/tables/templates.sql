-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.templates (
  template_uuid uuid NOT NULL DEFAULT tasker.uuid_generate_v7(),
  namespace_uuid uuid NOT NULL,
  namespace character varying(29) NOT NULL,
  name character varying(64) NOT NULL,
  version character varying(64) NOT NULL,
  description text,
  definition jsonb NOT NULL,
  definition_sha256 text NOT NULL,
  identity_strategy text NOT NULL DEFAULT 'always_unique'::text,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT templates_pkey PRIMARY KEY (template_uuid),
  CONSTRAINT templates_namespace_name_version_key UNIQUE (namespace, name, version),
  CONSTRAINT templates_namespace_uuid_fkey FOREIGN KEY (namespace_uuid) REFERENCES tasker.namespaces(namespace_uuid),
  CONSTRAINT templates_identity_strategy_check CHECK (identity_strategy = ANY (ARRAY['strict'::text, 'caller_provided'::text, 'always_unique'::text]))
);
