/**
 * The part of Odoo's `@web/core/registry` (17.0, 18.0, 19.0) these components use. Declarations
 * only: in Odoo the module is the web client's own; in the test harness a stand-in.
 */
export interface Registry<T = unknown> {
  add(key: string, value: T, options?: { force?: boolean; sequence?: number }): Registry<T>;
  get(key: string, defaultValue?: T): T;
  contains(key: string): boolean;
  category<U = unknown>(name: string): Registry<U>;
}

export declare const registry: Registry;
