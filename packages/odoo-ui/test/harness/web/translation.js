// The harness's stand-in for Odoo's @web/core/l10n/translation: no translation, %s substitution.
export function _t(source, ...values) {
  let i = 0;
  return values.length ? source.replace(/%s/g, () => String(values[i++] ?? '')) : source;
}
