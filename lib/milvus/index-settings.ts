/**
 * An index's settings as Milvus's describeIndex reports them, flat: Milvus 2.3 nests the build parameters as JSON
 * under `params`, later versions list them beside `index_type` and `metric_type`.
 */
export function indexSettings(params: { key: string; value: string | number }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of params) {
    if (key === 'params') {
      for (const [k, v] of Object.entries(JSON.parse(String(value)) as Record<string, unknown>))
        out[k] = String(v);
    } else out[key] = String(value);
  }
  return out;
}
