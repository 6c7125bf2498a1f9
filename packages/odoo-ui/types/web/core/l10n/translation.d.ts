/**
 * `_t` of Odoo's `@web/core/l10n/translation`: the translated string (Odoo 17 may return a lazy
 * string object; it is turned into text by `String()` and by templates).
 */
export declare function _t(source: string, ...values: unknown[]): string;
