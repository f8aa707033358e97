-- Part of resolve_steps (batch expansion): the batch ranges a batchable step's outcome asks for,
-- `batches({ totalItems, batchSize? })` or `batches({ ranges })`, or the reason it cannot have them (a malformed
-- outcome, or more batches than the blueprint's batch_config.max_batches). Pure: reads no table.
CREATE OR REPLACE FUNCTION tasker.batch_ranges(p_outcome jsonb, p_step_name text, p_blueprint_name text,
  p_batch_config jsonb, OUT ranges jsonb, OUT total_items bigint, OUT reason text)
 LANGUAGE plpgsql IMMUTABLE
AS $function$
DECLARE
  v_size bigint;
  v_max int := coalesce((p_batch_config->>'maxBatches')::int, 1000);
  v_n bigint;
BEGIN
  IF jsonb_typeof(p_outcome) IS DISTINCT FROM 'object' OR p_outcome->>'type' IS DISTINCT FROM 'create_batches' THEN
    reason := format('batchable step %s returned no batch_processing_outcome; its handler must return '
                       'batches({ totalItems }) or batches({ ranges })', p_step_name);
  ELSIF jsonb_typeof(p_outcome->'ranges') = 'array' THEN
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_outcome->'ranges') r
               WHERE CASE WHEN jsonb_typeof(r->'start') = 'number' AND jsonb_typeof(r->'end') = 'number'
                          THEN (r->>'start')::numeric < 0 OR (r->>'end')::numeric < (r->>'start')::numeric
                               OR (r->>'start')::numeric <> trunc((r->>'start')::numeric)
                               OR (r->>'end')::numeric <> trunc((r->>'end')::numeric)
                          ELSE true END) THEN
      reason := format('batchable step %s returned invalid ranges: each needs whole numbers 0 <= start <= end',
                         p_step_name);
    ELSE
      ranges := p_outcome->'ranges';
      total_items := (SELECT coalesce(sum((r->>'end')::bigint - (r->>'start')::bigint), 0)
                        FROM jsonb_array_elements(ranges) r);
    END IF;
  ELSIF jsonb_typeof(p_outcome->'total_items') = 'number' AND (p_outcome->>'total_items')::numeric >= 0
        AND (p_outcome->>'total_items')::numeric = trunc((p_outcome->>'total_items')::numeric)
        AND (p_outcome->'batch_size' IS NULL OR (jsonb_typeof(p_outcome->'batch_size') = 'number'
             AND (p_outcome->>'batch_size')::numeric >= 1
             AND (p_outcome->>'batch_size')::numeric = trunc((p_outcome->>'batch_size')::numeric))) THEN
    total_items := (p_outcome->>'total_items')::bigint;
    v_size := coalesce((p_outcome->>'batch_size')::bigint, (p_batch_config->>'batchSize')::bigint, 100);
    IF (total_items + v_size - 1) / v_size <= v_max THEN
      ranges := (SELECT coalesce(jsonb_agg(jsonb_build_object('start', g, 'end', least(g + v_size, total_items))
                                             ORDER BY g), '[]'::jsonb)
                   FROM generate_series(0::bigint, total_items - 1, v_size) AS g);
    ELSE
      ranges := NULL;
      reason := format('batchable step %s would create %s batches (%s items of %s); the limit is %s '
                         '(batch_config.max_batches of %s)', p_step_name, (total_items + v_size - 1) / v_size,
                         total_items, v_size, v_max, p_blueprint_name);
    END IF;
  ELSE
    reason := format('batchable step %s returned a batch_processing_outcome without a whole total_items >= 0 '
                       '(and an optional whole batch_size >= 1)', p_step_name);
  END IF;
  IF reason IS NULL THEN
    v_n := jsonb_array_length(ranges);
    IF v_n > v_max THEN
      reason := format('batchable step %s would create %s batches; the limit is %s (batch_config.max_batches of %s)',
                       p_step_name, v_n, v_max, p_blueprint_name);
      ranges := NULL;
    END IF;
  END IF;
END $function$;
